#!/usr/bin/env bash
# Certificates chosen by SNI (tls.h "identities"): one server config with four
# identities (ECDSA P-256 for a.test, RSA for b.test, Ed25519 for *.c.test, and
# RSA for a.test again), served by tests/interop/sni_server.c. Debian's
# openssl s_client and Node 24 connect with various names; the leaf each got is
# compared by SHA-256 fingerprint with `openssl x509 -fingerprint` of the file
# that should have answered, and the server's reported identity must agree.
. "$(dirname "$0")/lib.sh"
need_node
need_tool openssl
: "${PQIFY_SNI_SERVER:?PQIFY_SNI_SERVER (the sni_server test binary) must be set; CTest sets it}"

pki="$work/pki"
mkdir -p "$pki"
ossl() { openssl "$@" 2>>"$pki/openssl.log" >/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
  -out "$pki/ca.pem" -subj "/CN=pqify sni test CA" -days 30
# leaf <name> <CN> <SAN> <genpkey args...>
leaf() {
  local n=$1 cn=$2 san=$3
  shift 3
  ossl genpkey "$@" -out "$pki/$n.key"
  ossl req -new -key "$pki/$n.key" -subj "/CN=$cn" -out "$pki/$n.csr"
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' \
    "$san" >"$pki/$n.ext"
  ossl x509 -req -in "$pki/$n.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/$n.ext" -out "$pki/$n.pem"
}
leaf a a.test DNS:a.test -algorithm EC -pkeyopt ec_paramgen_curve:P-256
leaf b b.test DNS:b.test -algorithm RSA -pkeyopt rsa_keygen_bits:2048
leaf c wild.c.test 'DNS:*.c.test' -algorithm ED25519
leaf arsa a-rsa.test DNS:a.test -algorithm RSA -pkeyopt rsa_keygen_bits:2048
for n in a b c arsa; do
  [ -s "$pki/$n.pem" ] || { say "FAIL: could not make the test certificate $n"; cat "$pki/openssl.log"; exit 1; }
done
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
declare -A fp_of=([0]=$(fp "$pki/a.pem") [1]=$(fp "$pki/b.pem") [2]=$(fp "$pki/c.pem") [3]=$(fp "$pki/arsa.pem"))

begin "server start"
srv_log="$casedir/sni-server.stderr"
srv_out="$casedir/sni-server.stdout"
timeout 120 "$PQIFY_SNI_SERVER" "$pki/a.pem:$pki/a.key" "$pki/b.pem:$pki/b.key" \
  "$pki/c.pem:$pki/c.key" "$pki/arsa.pem:$pki/arsa.key" >"$srv_out" 2>"$srv_log" &
srv_pid=$!
pids+=("$srv_pid")
wait_for "$srv_log" '^listening on ' 10 || { fail "sni_server did not start"; finish; }
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$srv_log" | head -1)
served=0

# next_line: the server's line for the connection just made, into srv_line (not
# in a $(...) subshell: the count of lines read must persist).
next_line() {
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(grep -c '' "$srv_out")" -gt "$served" ] && break
    sleep 0.05
  done
  served=$((served + 1))
  srv_line=$(sed -n "${served}p" "$srv_out")
}
# expect_identity <want>: the identity the server reported for that connection.
expect_identity() {
  next_line
  expect "server identity" "$(sed -n 's/^identity=\([0-9]*\) .*/\1/p' <<<"$srv_line")" "$1"
}

# s_client <want identity> <ack yes|no> <args...>: Debian's openssl 3.0 (classical
# groups only), the leaf's fingerprint, and the server_name acknowledgement
# (-tlsextdebug prints the server's extensions).
s_client() {
  local want=$1 ack=$2 out
  shift 2
  out="$casedir/s_client.out"
  timeout "$T" openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.pem" -tls1_3 \
    -tlsextdebug -verify_return_error "$@" </dev/null >"$out" 2>&1
  local rc=$?
  expect "s_client exit status" "$rc" 0
  local got_fp
  got_fp=$(sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$out" |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/^.*=//')
  expect "leaf fingerprint" "$got_fp" "${fp_of[$want]}"
  expect_identity "$want"
  if grep -q 'TLS server extension "server name" (id=0), len=0' "$out"; then
    expect "server_name acknowledged" yes "$ack"
  else
    expect "server_name acknowledged" no "$ack"
  fi
  expect_match "s_client verified the chain" "$(cat "$out")" 'Verify return code: 0 \(ok\)'
}

begin "openssl: a.test (ECDSA)"
s_client 0 yes -servername a.test -verify_hostname a.test
begin "openssl: b.test (RSA)"
s_client 1 yes -servername b.test -verify_hostname b.test
begin "openssl: x.c.test (Ed25519 wildcard)"
s_client 2 yes -servername x.c.test -verify_hostname x.c.test
begin "openssl: B.TEST (case)"
s_client 1 yes -servername B.TEST -verify_hostname b.test
begin "openssl: y.x.c.test (two labels under the wildcard: default)"
s_client 0 no -servername y.x.c.test
begin "openssl: unknown.test (default)"
s_client 0 no -servername unknown.test
begin "openssl: no SNI (default)"
s_client 0 no -noservername
begin "openssl: a.test, RSA-PSS only (the RSA identity for the same name)"
s_client 3 yes -servername a.test -verify_hostname a.test -sigalgs rsa_pss_rsae_sha256
begin "openssl: a.test, Ed25519 only (no identity for a.test can sign)"
out="$casedir/s_client.out"
timeout "$T" openssl s_client -connect "127.0.0.1:$port" -CAfile "$pki/ca.pem" -tls1_3 \
  -servername a.test -sigalgs ed25519 </dev/null >"$out" 2>&1
expect "s_client refused" "$?" 1
expect_match "handshake_failure alert" "$(cat "$out")" 'alert handshake failure|handshake failure'
next_line
expect_match "server says why" "$srv_line" '^failed: no signature scheme in common: handshake_failure$'

# node <want identity> <key=value...>: Node 24 / OpenSSL 3.5 (X25519MLKEM768).
node_to() {
  local want=$1
  shift
  node_client "$port" ca="$pki/ca.pem" expect="identity $want
" "$@"
  expect "node exit status" "$nc_rc" 0
  expect "node leaf fingerprint" "$(jfield "$nc_log" connected server_cert_sha256)" "${fp_of[$want]}"
  expect "node group" "$(jfield "$nc_log" connected group)" X25519MLKEM768
  expect_identity "$want"
}

begin "node: a.test"
node_to 0 servername=a.test
begin "node: b.test"
node_to 1 servername=b.test
begin "node: Q.C.Test (wildcard, case)"
node_to 2 servername=Q.C.Test
begin "node: no SNI (default)"
node_to 0 servername= verify=false
begin "node: unknown.test (default)"
node_to 0 servername=unknown.test verify=false checkHost=false
begin "node: a.test, RSA-PSS only"
node_to 3 servername=a.test sigalgs=rsa_pss_rsae_sha256

finish
