#!/usr/bin/env bash
# Makes the test device CA and a device certificate for the provenance tests and doc example
# (self-issued, test only, valid 100 years). The operator issues real ones the same way
# (docs/formats.md "C2PA on the shared clip"): `scripts/device-cert`.
#
#   provenance/tests/data/make-test-ca.sh [DIR]     writes ca.pem, ca-key.pem, device-key.pem,
#                                                   device-chain.pem into DIR (default: beside it)
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")" && pwd)}"
cd "$dir"
openssl ecparam -name prime256v1 -genkey -noout -out ca-ec.pem
openssl pkcs8 -topk8 -nocrypt -in ca-ec.pem -out ca-key.pem && rm ca-ec.pem
openssl req -x509 -new -key ca-key.pem -sha256 -days 36500 -out ca.pem \
  -subj "/O=dashledger test/CN=dashledger test device CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash"
"$(dirname "$0")/../../../scripts/device-cert" --ca ca.pem --ca-key ca-key.pem \
  --device 0x00000000000000000000000000000000000000d1 --chain-id 31337 --out-dir .
