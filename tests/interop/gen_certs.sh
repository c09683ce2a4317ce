#!/usr/bin/env bash
# Test PKI for the interop tests, made at test time with the openssl CLI (the
# private keys are never committed). Usage: gen_certs.sh <dir>
#   <dir>/ca.pem                        the test CA (ECDSA P-256)
#   <dir>/other-ca.pem                  a CA that signed nothing we use
#   <dir>/server-{p256,p384,rsa,rsapss,ed25519}.{pem,key}
#                                       CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   <dir>/client-{p256,rsa,rsapss}.{pem,key}
#                                       CN=pqify-test-client[-rsa|-rsapss], clientAuth
# rsapss keys are id-RSASSA-PSS (RFC 4055), not rsaEncryption: TLS 1.3 signs with
# them through rsa_pss_pss_sha256/384/512 only.
#   <dir>/client-other.{pem,key}        CN=pqify-stranger, signed by other-ca
# Idempotent: an existing complete, unexpired set is kept.
set -euo pipefail
dir=${1:?usage: gen_certs.sh <dir>}
mkdir -p "$dir"
cd "$dir"
# Keep a complete set while every certificate is valid for another day (a
# build tree can outlive the 30-day certificates).
if [ -f .complete ]; then
  fresh=1
  for f in *.pem; do openssl x509 -in "$f" -noout -checkend 86400 >/dev/null 2>&1 || fresh=0; done
  [ -f server-rsapss.pem ] && [ -f client-rsapss.pem ] || fresh=0
  [ "$fresh" = 1 ] && exit 0
  rm -f ./*.pem ./*.key ./*.srl .complete
fi
umask 077

newkey() {  # newkey <file> <kind>
  case $2 in
    p256)    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" ;;
    p384)    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1" ;;
    rsa)     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" ;;
    rsapss)  openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$1" ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$1" ;;
  esac 2>/dev/null
}

mkca() {  # mkca <name> <CN>
  newkey "$1.key" p256
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() {  # leaf <name> <kind> <CN> <extfile-lines...>
  local name=$1 kind=$2 cn=$3; shift 3
  newkey "$name.key" "$kind"
  openssl req -new -key "$name.key" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' "$@" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "${signer:-ca}.pem" -CAkey "${signer:-ca}.key" -CAcreateserial \
    -out "$name.pem" -days 30 -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

mkca ca "pqify interop test CA"
mkca other-ca "pqify unrelated CA"
for k in p256 p384 rsa rsapss ed25519; do
  leaf "server-$k" "$k" localhost \
    "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1"
done
leaf client-p256 p256 pqify-test-client "basicConstraints=CA:FALSE" "extendedKeyUsage=clientAuth"
leaf client-rsa rsa pqify-test-client-rsa "basicConstraints=CA:FALSE" "extendedKeyUsage=clientAuth"
leaf client-rsapss rsapss pqify-test-client-rsapss "basicConstraints=CA:FALSE" "extendedKeyUsage=clientAuth"
signer=other-ca leaf client-other p256 pqify-stranger "basicConstraints=CA:FALSE" "extendedKeyUsage=clientAuth"
for f in *.pem; do openssl x509 -in "$f" -noout >/dev/null; done
touch .complete
