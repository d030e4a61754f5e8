# Warning set of STYLE.md, carried by an interface target so third-party code
# (llhttp's generated sources) never inherits it.
add_library(tn_warnings INTERFACE)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(tn_warnings INTERFACE
        -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes
        -Wpointer-arith -Wvla -Wformat=2 -Wno-unused-parameter)
    if(TN_WERROR)
        target_compile_options(tn_warnings INTERFACE -Werror)
    endif()
endif()

if(TN_SANITIZE)
    set(TN_SAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    add_compile_options(${TN_SAN_FLAGS})
    add_link_options(-fsanitize=address,undefined)
endif()

# Strict C11 hides POSIX declarations that <uv.h> and the socket code need.
if(NOT WIN32)
    add_compile_definitions(_POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
else()
    # mingw's C99 printf family, so %zu
    # and %lld mean what they mean elsewhere.
    add_compile_definitions(__USE_MINGW_ANSI_STDIO=1)
endif()
