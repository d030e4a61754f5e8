#!/usr/bin/env bash
# Installs a build into a scratch prefix and builds tests/consumer against it,
# once through find_package(tornuv) and once through pkg-config.
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${1:-build}
prefix=$(mktemp -d); trap 'rm -rf "$prefix"' EXIT
cmake --install "$bdir" --prefix "$prefix" >/dev/null
cmake -S tests/consumer -B "$prefix/consumer-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" "$prefix/consumer-build/consumer"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -o "$prefix/consumer-pc" tests/consumer/consumer.c \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs tornuv)
LD_LIBRARY_PATH="$prefix/lib" "$prefix/consumer-pc"
