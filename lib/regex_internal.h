/* Internal: the layout of tn_regex_t, shared by regex.c and iostream.c. */
#ifndef TN_LIB_REGEX_INTERNAL_H
#define TN_LIB_REGEX_INTERNAL_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "tornuv/regex.h"

struct tn_regex_s {
    pcre2_code *code;
};

#endif
