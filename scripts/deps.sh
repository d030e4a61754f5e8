#!/usr/bin/env bash
# Installs the Debian packages tornuv builds and tests with, if any are
# missing. Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkgconf git libuv1-dev node-llhttp libpcre2-dev
      libcriterion-dev zlib1g-dev libssl-dev openssl python3 clang-format curl nginx "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
