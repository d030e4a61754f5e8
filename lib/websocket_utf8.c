/* Incremental UTF-8 validation for WebSocket text messages and close
 * reasons.
 *
 * A table-driven DFA over byte classes, written from the well-formed byte
 * sequence table of the Unicode standard (chapter 3, table 3-7): each byte
 * maps to one of 12 classes, each (state, class) pair to the next state.
 * The state survives between calls, so a character split across frames or
 * reads is checked as it arrives, and the first byte that cannot start or
 * continue a valid sequence rejects at once (RFC 6455 section 8.1: fail
 * fast). While the state is ACCEPT, eight ASCII bytes are skipped per step. */
#include <string.h>

#include "websocket_proto.h"

/* Byte classes:
 *  0  00..7F  ASCII              6  E1..EC, EE..EF  3-byte lead
 *  1  80..8F  continuation       7  ED              3-byte lead, no surrogates
 *  2  90..9F  continuation       8  F0              4-byte lead, no overlong
 *  3  A0..BF  continuation       9  F1..F3          4-byte lead
 *  4  C2..DF  2-byte lead       10  F4              4-byte lead, <= U+10FFFF
 *  5  E0      3-byte, no overlong 11  C0, C1, F5..FF never valid */
static const uint8_t byte_class[256] = {
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 00 */
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10 */
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 20 */
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 30 */
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 40 */
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 50 */
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 60 */
    0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 70 */
    1,  1,  1, 1, 1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 80 */
    2,  2,  2, 2, 2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 90 */
    3,  3,  3, 3, 3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* A0 */
    3,  3,  3, 3, 3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* B0 */
    11, 11, 4, 4, 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* C0 */
    4,  4,  4, 4, 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* D0 */
    5,  6,  6, 6, 6,  6,  6,  6,  6,  6,  6,  6,  6,  7,  6,  6,  /* E0 */
    8,  9,  9, 9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, /* F0 */
};

/* States: 0 accept; 1, 2, 3 expect that many continuation bytes (any of
 * 80..BF); 4 after E0 (A0..BF); 5 after ED (80..9F); 6 after F0 (90..BF);
 * 7 after F4 (80..8F); 8 reject. */
#define R TN__UTF8_REJECT
static const uint8_t transition[9][12] = {
    /*        0  1  2  3  4  5  6  7  8  9  10 11 */
    /* 0 */ {0, R, R, R, 1, 4, 2, 5, 6, 3, 7, R},
    /* 1 */ {R, 0, 0, 0, R, R, R, R, R, R, R, R},
    /* 2 */ {R, 1, 1, 1, R, R, R, R, R, R, R, R},
    /* 3 */ {R, 2, 2, 2, R, R, R, R, R, R, R, R},
    /* 4 */ {R, R, R, 1, R, R, R, R, R, R, R, R},
    /* 5 */ {R, 1, 1, R, R, R, R, R, R, R, R, R},
    /* 6 */ {R, R, 2, 2, R, R, R, R, R, R, R, R},
    /* 7 */ {R, 2, R, R, R, R, R, R, R, R, R, R},
    /* 8 */ {R, R, R, R, R, R, R, R, R, R, R, R},
};
#undef R

unsigned tn__utf8_step(unsigned state, const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (state == TN__UTF8_ACCEPT) {
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            if (i == len)
                break;
        } else if (state == TN__UTF8_REJECT) {
            return state;
        }
        state = transition[state][byte_class[p[i]]];
        i++;
    }
    return state;
}

int tn__utf8_valid(const void *p, size_t len)
{
    return tn__utf8_step(TN__UTF8_ACCEPT, p, len) == TN__UTF8_ACCEPT;
}
