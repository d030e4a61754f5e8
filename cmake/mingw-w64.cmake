# Toolchain file: cross-compile for 64-bit Windows with Debian's mingw-w64
# (x86_64-w64-mingw32-*) and run the results through wine (ctest uses
# CMAKE_CROSSCOMPILING_EMULATOR). Used by scripts/windows.sh, for libuv,
# PCRE2 and tornuv alike.
#
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake -DCMAKE_PREFIX_PATH=<deps prefix> ...
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(TN_MINGW_TRIPLET x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${TN_MINGW_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${TN_MINGW_TRIPLET}-g++)
set(CMAKE_RC_COMPILER ${TN_MINGW_TRIPLET}-windres)
set(CMAKE_AR ${TN_MINGW_TRIPLET}-ar CACHE FILEPATH "archiver")
set(CMAKE_RANLIB ${TN_MINGW_TRIPLET}-ranlib CACHE FILEPATH "ranlib")

# Libraries, headers and packages come from the mingw sysroot (and from
# CMAKE_PREFIX_PATH, where scripts/windows.sh installs libuv and PCRE2);
# programs (wine, pkg-config, the compilers) always come from the host.
set(TN_MINGW_SYSROOT /usr/${TN_MINGW_TRIPLET} CACHE PATH "mingw-w64 sysroot (Debian's location)")
set(CMAKE_FIND_ROOT_PATH ${TN_MINGW_SYSROOT} ${CMAKE_PREFIX_PATH})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must never answer with the build machine's own .pc files.
# FindPkgConfig adds CMAKE_PREFIX_PATH's lib/pkgconfig directories itself.
set(ENV{PKG_CONFIG_LIBDIR} ${TN_MINGW_SYSROOT}/lib/pkgconfig)

# Self-contained executables: no libgcc / libwinpthread DLLs to ship next
# to each .exe or to find through WINEPATH.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")

find_program(TN_WINE NAMES wine wine64)
if(TN_WINE)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${TN_WINE})
endif()
