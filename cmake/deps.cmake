# Every dependency comes from the system (the distribution, vcpkg, MSYS2);
# nothing is vendored. Each is wrapped in an interface target tn_<name>.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
add_library(tn_threads INTERFACE)
target_link_libraries(tn_threads INTERFACE Threads::Threads)

# libuv: Debian ships a pkg-config file and no CMake package.
add_library(tn_libuv INTERFACE)
find_package(libuv CONFIG QUIET)
# libuv's own CMake export names its targets libuv::uv / libuv::uv_a in newer
# releases, plain uv / uv_a in 1.44 (which scripts/windows.sh builds).
if(TARGET libuv::uv_a AND TN_PREFER_STATIC_UV)
    target_link_libraries(tn_libuv INTERFACE libuv::uv_a)
elseif(TARGET uv_a AND TN_PREFER_STATIC_UV)
    target_link_libraries(tn_libuv INTERFACE uv_a)
elseif(TARGET libuv::uv)
    target_link_libraries(tn_libuv INTERFACE libuv::uv)
elseif(TARGET uv)
    target_link_libraries(tn_libuv INTERFACE uv)
else()
    pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv>=1.44)
    target_link_libraries(tn_libuv INTERFACE PkgConfig::LIBUV)
endif()

# llhttp: an installed package (llhttp::llhttp, as vcpkg and upstream
# releases provide), else the generated C sources of Debian's node-llhttp,
# compiled here with plain flags (they are not warning-clean under ours).
add_library(tn_llhttp INTERFACE)
add_library(tn_llhttp_headers INTERFACE)
find_package(llhttp CONFIG QUIET)
if(TARGET llhttp::llhttp)
    target_link_libraries(tn_llhttp INTERFACE llhttp::llhttp)
    get_target_property(_llh_inc llhttp::llhttp INTERFACE_INCLUDE_DIRECTORIES)
    target_include_directories(tn_llhttp_headers INTERFACE ${_llh_inc})
    message(STATUS "llhttp: installed CMake package llhttp::llhttp")
else()
    set(TN_LLHTTP_SOURCE_DIR "" CACHE PATH "Directory holding llhttp's api.c, http.c, llhttp.c")
    set(TN_LLHTTP_INCLUDE_DIR "" CACHE PATH "Directory holding llhttp.h")
    # Generated C is the same for every target, so a cross build (mingw-w64)
    # takes it from the host too: no find-root-path re-rooting.
    find_path(TN_LLHTTP_SRC NAMES llhttp.c api.c http.c
        HINTS ${TN_LLHTTP_SOURCE_DIR} PATHS /usr/share/llhttp NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
    find_path(TN_LLHTTP_INC NAMES llhttp.h
        HINTS ${TN_LLHTTP_INCLUDE_DIR} PATHS /usr/share/include/llhttp NO_DEFAULT_PATH
        NO_CMAKE_FIND_ROOT_PATH)
    if(NOT TN_LLHTTP_SRC OR NOT TN_LLHTTP_INC)
        message(FATAL_ERROR
            "llhttp not found. Either install a llhttp CMake package (llhttp::llhttp, "
            "e.g. vcpkg 'llhttp'), or install Debian's node-llhttp package (its C sources "
            "are compiled into the build; set TN_LLHTTP_SOURCE_DIR/TN_LLHTTP_INCLUDE_DIR "
            "if they live elsewhere).")
    endif()
    add_library(tn_llhttp_src STATIC
        ${TN_LLHTTP_SRC}/api.c ${TN_LLHTTP_SRC}/http.c ${TN_LLHTTP_SRC}/llhttp.c)
    target_include_directories(tn_llhttp_src PUBLIC $<BUILD_INTERFACE:${TN_LLHTTP_INC}>)
    set_target_properties(tn_llhttp_src PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
    target_link_libraries(tn_llhttp INTERFACE tn_llhttp_src)
    target_include_directories(tn_llhttp_headers INTERFACE ${TN_LLHTTP_INC})
    message(STATUS "llhttp: compiled from sources in ${TN_LLHTTP_SRC}")
endif()

# PCRE2 (8-bit) for read_until_regex and routing.
add_library(tn_pcre2 INTERFACE)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
target_link_libraries(tn_pcre2 INTERFACE PkgConfig::PCRE2)
target_compile_definitions(tn_pcre2 INTERFACE PCRE2_CODE_UNIT_WIDTH=8)
# A static PCRE2 on Windows must be declared, or pcre2.h asks for dllimport
# (its pkg-config file does not say so; scripts/windows.sh sets this).
option(TN_PCRE2_STATIC "PCRE2 is a static library (Windows: defines PCRE2_STATIC)" OFF)
if(TN_PCRE2_STATIC)
    target_compile_definitions(tn_pcre2 INTERFACE PCRE2_STATIC)
endif()

# zlib (gzip request bodies and responses) and OpenSSL's libcrypto (signed cookies).
add_library(tn_zlib INTERFACE)
find_package(ZLIB REQUIRED)
target_link_libraries(tn_zlib INTERFACE ZLIB::ZLIB)
add_library(tn_crypto INTERFACE)
if(WIN32)
    # On Windows the web layer's SHA-1, HMAC-SHA256 and random bytes always
    # come from the system's CNG (bcrypt.dll), with or without an OpenSSL for
    # TLS: one tested backend per platform (test_crypto checks both against
    # the same published vectors).
    target_link_libraries(tn_crypto INTERFACE bcrypt)
else()
    find_package(OpenSSL REQUIRED COMPONENTS Crypto)
    target_link_libraries(tn_crypto INTERFACE OpenSSL::Crypto)
    target_compile_definitions(tn_crypto INTERFACE TN_HAVE_OPENSSL=1)
endif()

# OpenSSL's libssl for TLS streams (lib/tls*.c). Required on Unix. On
# Windows TLS is compiled out (every tls.h call returns TN_ENOTSUP) unless an
# OpenSSL for the target is found (scripts/windows.sh cross-builds a static
# one from Debian's source package and sets TN_REQUIRE_TLS).
option(TN_REQUIRE_TLS "Windows: fail the configure step if no OpenSSL for TLS is found" OFF)
add_library(tn_ssl INTERFACE)
if(WIN32)
    if(TN_REQUIRE_TLS)
        find_package(OpenSSL REQUIRED COMPONENTS SSL Crypto)
    else()
        find_package(OpenSSL QUIET COMPONENTS SSL Crypto)
    endif()
else()
    find_package(OpenSSL REQUIRED COMPONENTS SSL Crypto)
endif()
if(TARGET OpenSSL::SSL)
    target_link_libraries(tn_ssl INTERFACE OpenSSL::SSL OpenSSL::Crypto)
    if(WIN32)
        # What a static OpenSSL calls in the system: Winsock (BIO sockets),
        # the certificate store API, CNG random bytes, and the user32/gdi32/
        # advapi32 calls of its Windows glue. Harmless for a DLL build.
        target_link_libraries(tn_ssl INTERFACE ws2_32 crypt32 bcrypt user32 gdi32 advapi32)
    endif()
    target_compile_definitions(tn_ssl INTERFACE TN_HAVE_TLS=1)
    message(STATUS "TLS: OpenSSL ${OPENSSL_VERSION}")
else()
    message(STATUS "TLS: no OpenSSL for the target, tls.h returns TN_ENOTSUP")
endif()

# Tests: Criterion, except on Windows, where it cannot be built from the
# sources we reach; there tests/support/wincrit/ stands in for the subset of
# its API the tests use (tests/CMakeLists.txt).
if(TN_BUILD_TESTS AND NOT WIN32)
    pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
endif()
