#!/usr/bin/env bash
# The test peers themselves, before pqify is in the loop: Node 24 against
# Node 24 for every group, suite, HRR, mutual TLS, ALPN and SNI, and Node
# against Debian's openssl 3.0 and GnuTLS. If this fails, the pqify interop
# results mean nothing; if it passes, a pqify failure is pqify's.
. "$(dirname "$0")/lib.sh"
need_node
need_tool openssl
need_tool gnutls-cli
need_tool gnutls-serv

srv="cert=$certs/server-p256.pem key=$certs/server-p256.key"

# Node's names: OpenSSL 3.5 accepts these group names in ecdhCurve.
for g in X25519MLKEM768 SecP256r1MLKEM768 SecP384r1MLKEM1024 MLKEM512 MLKEM768 MLKEM1024 X25519 P-256 P-384; do
  begin "node-node group $g"
  node_server $srv groups=$g || continue
  node_client "$srv_port" ca=$certs/ca.pem groups=$g
  wait_server
  expect "client exit" "$nc_rc" 0
  expect "client wire group" "$(jfield "$nc_log" connected group)" "$g"
  expect "server wire group" "$(jfield "$srv_log" accepted group)" "$g"
  # Cross-check the wire tap against Node's own getEphemeralKeyInfo().
  want_node=$g
  case $g in P-256) want_node=prime256v1 ;; P-384) want_node=secp384r1 ;; esac
  expect "client getEphemeralKeyInfo" "$(jfield "$nc_log" connected node_group)" "$want_node"
  expect "hrr" "$(jfield "$srv_log" accepted hrr)" false
  expect "echo" "$(jfield "$nc_log" done ok)" true
done

for cs in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
  begin "node-node suite $cs"
  node_server $srv ciphersuites=$cs || continue
  node_client "$srv_port" ca=$certs/ca.pem
  wait_server
  expect "server cipher" "$(jfield "$srv_log" accepted cipher)" "$cs"
  expect "client cipher" "$(jfield "$nc_log" connected cipher)" "$cs"
done

begin "node-node HRR"
node_server $srv groups=SecP256r1MLKEM768 && {
  node_client "$srv_port" ca=$certs/ca.pem groups=X25519MLKEM768:SecP256r1MLKEM768
  wait_server
  expect "client sent one share" "$(grep -o '"key_shares":\[[^]]*\]' "$nc_log" | head -1)" '"key_shares":["X25519MLKEM768"]'
  expect "server saw hrr" "$(jfield "$srv_log" accepted hrr)" true
  expect "client saw hrr" "$(jfield "$nc_log" connected hrr)" true
  expect "group" "$(jfield "$nc_log" connected group)" SecP256r1MLKEM768
}

begin "node-node mutual TLS, ALPN, SNI"
node_server cert=$certs/server-rsa.pem key=$certs/server-rsa.key ca=$certs/ca.pem alpn=h2,http/1.1 && {
  node_client "$srv_port" ca=$certs/ca.pem cert=$certs/client-p256.pem key=$certs/client-p256.key alpn=http/1.1
  wait_server
  expect "client exit" "$nc_rc" 0
  expect "client cert seen" "$(jfield "$srv_log" accepted client_cert)" pqify-test-client
  expect "authorized" "$(jfield "$srv_log" accepted authorized)" true
  expect "alpn" "$(jfield "$nc_log" connected alpn)" http/1.1
  expect "sni" "$(jfield "$srv_log" accepted servername)" localhost
}

begin "node-node mutual TLS without a client certificate is refused"
node_server $srv ca=$certs/ca.pem && {
  node_client "$srv_port" ca=$certs/ca.pem
  wait_server
  expect "client exit" "$nc_rc" 1
  expect "alert" "$(jfield "$nc_log" error code)" ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED
}

begin "openssl s_client -> node"
node_server $srv closeAfter=14 && {
  printf 'hello openssl\n' | timeout "$T" openssl s_client -connect 127.0.0.1:"$srv_port" \
    -CAfile "$certs/ca.pem" -servername localhost -verify_return_error -quiet \
    >"$casedir/s_client.out" 2>"$casedir/s_client.err"
  wait_server
  expect "server group" "$(jfield "$srv_log" accepted group)" X25519
  expect "echo" "$(cat "$casedir/s_client.out")" "hello openssl"
}

begin "node -> openssl s_server"
timeout "$T" openssl s_server -accept 127.0.0.1:0 -naccept 1 -tls1_3 -rev \
  -cert "$certs/server-p256.pem" -key "$certs/server-p256.key" >"$casedir/s_server.out" 2>&1 &
pids+=($!)
if wait_for "$casedir/s_server.out" '^ACCEPT' 10; then
  port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$casedir/s_server.out")
  # s_server -rev answers each line reversed: send one, expect it reversed.
  node_client "$port" ca=$certs/ca.pem send=$'olleh\n' expect=$'hello\n'
  expect "group" "$(jfield "$nc_log" connected group)" X25519
  expect "pq" "$(jfield "$nc_log" connected pq)" false
else
  fail "openssl s_server did not start"
fi

begin "gnutls-cli -> node"
node_server $srv closeAfter=13 && {
  printf 'hello gnutls\n' | timeout "$T" gnutls-cli --port "$srv_port" --x509cafile "$certs/ca.pem" localhost \
    >"$casedir/gnutls-cli.out" 2>"$casedir/gnutls-cli.err"
  wait_server
  expect "server group" "$(jfield "$srv_log" accepted group)" X25519
  expect_match "echo" "$(cat "$casedir/gnutls-cli.out")" '^hello gnutls$'
}

begin "node -> gnutls-serv"
timeout "$T" gnutls-serv --port 0 --echo --x509certfile "$certs/server-p256.pem" \
  --x509keyfile "$certs/server-p256.key" >"$casedir/gnutls-serv.out" 2>&1 &
gpid=$!
pids+=($gpid)
if wait_for "$casedir/gnutls-serv.out" 'listening' 10 && port=$(listen_port_of "$gpid"); then
  node_client "$port" ca=$certs/ca.pem
  expect "client exit" "$nc_rc" 0
  expect "group" "$(jfield "$nc_log" connected group)" X25519
else
  fail "gnutls-serv did not start"
fi
kill "$gpid" 2>/dev/null

finish
