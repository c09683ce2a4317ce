#!/usr/bin/env bash
# A key generated on a SoftHSM2 token signs through the network (issue 10):
# GnuTLS's p11tool generates an ECDSA P-256 key on a fresh token (its private half
# never exists outside it); pqify keyserver holds it by an RFC 7512 URI; then
#  - 200 signs through the keyless client library, each verified with libcrypto
#    against the public key p11tool exported;
#  - pqify serve --keyless with a certificate the openssl CLI issued for that public
#    key: a Node 24 handshake completes, signed on the token.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_node
need_tool softhsm2-util
need_tool p11tool
[ -x "$PQIFY_KEYLESS_LOAD" ] || { say "FAIL: keyless_load not built"; exit 1; }
module=/usr/lib/softhsm/libsofthsm2.so
[ -f "$module" ] || { say "FAIL: $module is not installed"; exit 1; }

begin "a SoftHSM2 key signs through pqify keyserver"
d="$casedir"
mkdir -p "$d/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$d" >"$d/softhsm2.conf"
export SOFTHSM2_CONF="$d/softhsm2.conf"
softhsm2-util --init-token --free --label pqify-e2e --pin 1234 --so-pin 8765 >"$d/init.out" 2>&1 ||
  fail "softhsm2-util --init-token"
p11tool --provider "$module" --login --set-pin=1234 --generate-privkey=ecdsa --curve=secp256r1 \
  --label gen256 --id 01 'pkcs11:token=pqify-e2e' >"$d/gen.out" 2>&1 || fail "p11tool --generate-privkey"
p11tool --provider "$module" --login --set-pin=1234 \
  --export-pubkey 'pkcs11:token=pqify-e2e;object=gen256;type=public' --outfile "$d/pub.pem" 2>"$d/export.err" ||
  fail "p11tool --export-pubkey"
# the SKI as RFC 5280 §4.2.1.2 method 1 (the openssl CLI's own, via a certificate)
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/ext"
openssl x509 -new -subj /CN=localhost -force_pubkey "$d/pub.pem" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
  -days 2 -extfile "$d/ext" -out "$d/token-cert.pem" 2>"$d/x509.err" || fail "openssl x509 -new"
ski=$(openssl x509 -in "$d/token-cert.pem" -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :\n')

log="$d/keyserver.stderr"
timeout 300 "$PQIFY_BIN" keyserver --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
  --pkcs11 "pkcs11:token=pqify-e2e;object=gen256;type=private?pin-value=1234&module-path=$module" \
  --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --ca "$certs/ca.pem" --workers 2 \
  2>"$log" >/dev/null &
p=$!
pids+=("$p")
if wait_for "$log" '^listening on ' 10; then
  pids+=("$(pgrep -P "$p" -n)")
  ks_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)
  ks_adm=$(sed -n 's/^pqify keyserver: admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$log" | head -1)
  expect_match "the key server holds the token's key" "$(cat "$log")" '^pqify keyserver: 1 keys, '

  timeout 120 "$PQIFY_KEYLESS_LOAD" sign 200 "127.0.0.1:$ks_port" "$certs/ca.pem" "$certs/client-p256.pem" \
    "$certs/client-p256.key" "$ski" "$d/pub.pem" >"$d/load.out" 2>&1
  expect "keyless_load against the token's key" "$?" 0
  expect_match "200 signs on the token, once each, all verified" "$(grep '^requests' "$d/load.out")" \
    '^requests 200 answered-once 200 twice 0 never 0 verified 200 errors 0 '

  start_serve --cert "$d/token-cert.pem" --keyless "127.0.0.1:$ks_port" --workers 1 \
    --keyless-cert "$certs/client-p256.pem" --keyless-key "$certs/client-p256.key" \
    --keyless-ca "$certs/ca.pem" --keyless-servername localhost
  out=$(node_tls "$srv_port")
  expect "Node 24 handshake signed on the token" "$out" "ok TLSv1.3"
  expect_match "the key server counted 201 ECDSA signs" "$(curl -s --max-time 10 "http://127.0.0.1:$ks_adm/metrics")" \
    '^pqify_keyless_requests_total\{opcode="ecdsa-sha256",result="ok"\} 201$'
  stop_serve TERM
else
  fail "pqify keyserver did not start"
fi

finish
