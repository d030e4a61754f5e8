#!/usr/bin/env bash
# Makes a local certificate authority and a certificate for localhost,
# 127.0.0.1 and ::1 signed by it, for development and tests (ECDSA P-256).
# Usage: scripts/devcert.sh [DIR]   (default: ./devcert)
# Writes DIR/ca.pem, DIR/ca.key, DIR/cert.pem (leaf + CA chain) and
# DIR/key.pem. Trust DIR/ca.pem in a client (curl --cacert DIR/ca.pem) or
# the browser; never use these keys for anything but local testing.
set -euo pipefail
dir=${1:-devcert}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=tornuv development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out key.pem 2>/dev/null
openssl req -new -key key.pem -subj "/CN=localhost" -out leaf.csr 2>/dev/null
cat > leaf.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -sha256 \
    -extfile leaf.ext -out leaf.pem 2>/dev/null
cat leaf.pem ca.pem > cert.pem
rm -f leaf.csr leaf.ext leaf.pem ca.srl
chmod 644 ca.pem cert.pem
echo "devcert: $(pwd)/cert.pem, $(pwd)/key.pem (CA: $(pwd)/ca.pem)"
