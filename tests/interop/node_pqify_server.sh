#!/usr/bin/env bash
# pqify serve (server) against the Node 24 / OpenSSL 3.5 client
# (tests/peers/tls_client.mjs): every group Node has x every suite, HRR,
# pq modes, certificate types, mutual TLS, ALPN, SNI, --www, and data round
# trips. Both sides must report the same group and HRR.
. "$(dirname "$0")/lib.sh"
need_node

srv=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key")

# accepted_line: the `accepted` line pqify serve printed (or "").
accepted_line() { grep -m1 '^accepted ' "$srv_log" || true; }

# check_ok <group> <hrr yes|no> [cipher]: pqify's line, Node's view, the echo.
check_ok() {
  local g=$1 hrr=$2 cs=${3:-} line
  line=$(accepted_line)
  expect "node exit status" "$nc_rc" 0
  expect "pqify serve --once exit status" "$srv_rc" 0
  expect_match "accepted line" "$line" \
    '^accepted peer=127\.0\.0\.1:[0-9]+ version=TLSv1\.3 group=[^ ]+ pq=(yes|no) hrr=(yes|no) cipher=TLS_[A-Z0-9_]+ client_cert=.+$'
  expect_group "pqify group" "$(field "$line" group)" "$g"
  expect "pqify pq" "$(field "$line" pq)" "$(is_pq_group "$g")"
  expect "pqify hrr" "$(field "$line" hrr)" "$hrr"
  expect_group "node group" "$(jfield "$nc_log" connected group)" "$g"
  expect "node hrr" "$(jfield "$nc_log" connected hrr)" "$([ "$hrr" = yes ] && echo true || echo false)"
  if [ -n "$cs" ]; then
    expect "pqify cipher" "$(field "$line" cipher)" "$cs"
    expect "node cipher" "$(jfield "$nc_log" connected cipher)" "$cs"
  fi
  expect "echo came back intact" "$(jfield "$nc_log" done ok)" true
}

for g in $node_groups; do
  for cs in $suites; do
    begin "group $g, suite $cs"
    pqify_serve "${srv[@]}" || continue
    node_client "$srv_port" ca=$certs/ca.pem groups=$g ciphersuites=$cs
    wait_server
    check_ok "$g" no "$cs"
  done
done

begin "Node defaults: X25519MLKEM768 without HRR"
pqify_serve "${srv[@]}" && {
  node_client "$srv_port" ca=$certs/ca.pem
  wait_server
  check_ok X25519MLKEM768 no
}

# HRR as server: the client supports a PQ group but sent a classical share
# only (OpenSSL 3.5 shares the first listed group); preferred must go PQ.
begin "HRR: X25519 share, X25519MLKEM768 supported"
pqify_serve "${srv[@]}" && {
  node_client "$srv_port" ca=$certs/ca.pem groups=X25519:X25519MLKEM768
  wait_server
  check_ok X25519MLKEM768 yes
  expect "node hrr_group" "$(jfield "$nc_log" connected hrr_group)" X25519MLKEM768
}
begin "HRR: P-256 share, SecP256r1MLKEM768 supported"
pqify_serve "${srv[@]}" && {
  node_client "$srv_port" ca=$certs/ca.pem groups=P-256:SecP256r1MLKEM768
  wait_server
  check_ok SecP256r1MLKEM768 yes
}
begin "HRR: server limited to SecP384r1MLKEM1024"
pqify_serve "${srv[@]}" --groups SecP384r1MLKEM1024 && {
  node_client "$srv_port" ca=$certs/ca.pem groups=X25519MLKEM768:SecP384r1MLKEM1024
  wait_server
  check_ok SecP384r1MLKEM1024 yes
}
begin "classical client: X25519 kept, no HRR"
pqify_serve "${srv[@]}" && {
  node_client "$srv_port" ca=$certs/ca.pem groups=X25519:P-256
  wait_server
  check_ok X25519 no
}

begin "pq=off server: classical although the client offers ML-KEM"
pqify_serve "${srv[@]}" --pq off && {
  node_client "$srv_port" ca=$certs/ca.pem
  wait_server
  check_ok X25519 no
}
begin "pq=required server, PQ client"
pqify_serve "${srv[@]}" --pq required && {
  node_client "$srv_port" ca=$certs/ca.pem
  wait_server
  check_ok X25519MLKEM768 no
}
begin "pq=required server refuses a classical client with insufficient_security"
pqify_serve "${srv[@]}" --pq required && {
  node_client "$srv_port" ca=$certs/ca.pem groups=X25519:P-256:P-384
  wait_server
  expect "node exit status" "$nc_rc" 1
  expect "node got the alert" "$(jfield "$nc_log" error code)" ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY
  expect "pqify serve --once exit status" "$srv_rc" 1
  expect "no accepted line" "$(accepted_line)" ""
  expect_match "pqify says why" "$(cat "$srv_log")" 'handshake with 127\.0\.0\.1:[0-9]+ failed: .*post-quantum.*insufficient_security'
}

for k in p256 p384 rsa rsapss ed25519; do
  begin "server certificate $k"
  pqify_serve --cert "$certs/server-$k.pem" --key "$certs/server-$k.key" || continue
  node_client "$srv_port" ca=$certs/ca.pem
  wait_server
  check_ok X25519MLKEM768 no
  expect "node verified the certificate" "$(jfield "$nc_log" connected server_cert)" localhost
done

for k in p256 rsa rsapss; do
  begin "mutual TLS, client certificate $k"
  pqify_serve "${srv[@]}" --ca "$certs/ca.pem" || continue
  node_client "$srv_port" ca=$certs/ca.pem cert=$certs/client-$k.pem key=$certs/client-$k.key
  wait_server
  check_ok X25519MLKEM768 no
  want=pqify-test-client
  [ "$k" = rsa ] && want=pqify-test-client-rsa
  [ "$k" = rsapss ] && want=pqify-test-client-rsapss
  expect "client_cert" "$(field "$(accepted_line)" client_cert)" "CN=$want"
done
begin "mutual TLS: no client certificate -> certificate_required"
pqify_serve "${srv[@]}" --ca "$certs/ca.pem" && {
  node_client "$srv_port" ca=$certs/ca.pem
  wait_server
  expect "node exit status" "$nc_rc" 1
  expect "node got the alert" "$(jfield "$nc_log" error code)" ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED
  expect "pqify serve --once exit status" "$srv_rc" 1
  expect_match "pqify says why" "$(cat "$srv_log")" 'failed: .*certificate_required'
}
begin "mutual TLS: client certificate from another CA -> unknown_ca"
pqify_serve "${srv[@]}" --ca "$certs/ca.pem" && {
  node_client "$srv_port" ca=$certs/ca.pem cert=$certs/client-other.pem key=$certs/client-other.key
  wait_server
  expect "node exit status" "$nc_rc" 1
  expect "node got the alert" "$(jfield "$nc_log" error code)" ERR_SSL_TLSV1_ALERT_UNKNOWN_CA
  expect_match "pqify says why" "$(cat "$srv_log")" 'failed: .*unknown_ca'
}
begin "server without --ca does not ask for a client certificate"
pqify_serve "${srv[@]}" && {
  node_client "$srv_port" ca=$certs/ca.pem cert=$certs/client-p256.pem key=$certs/client-p256.key
  wait_server
  check_ok X25519MLKEM768 no
  expect "client_cert" "$(field "$(accepted_line)" client_cert)" -
}

begin "ALPN: server preference"
pqify_serve "${srv[@]}" --alpn h2,http/1.1 && {
  node_client "$srv_port" ca=$certs/ca.pem alpn=http/1.1,h2
  wait_server
  check_ok X25519MLKEM768 no
  expect "node alpn" "$(jfield "$nc_log" connected alpn)" h2
}
begin "ALPN: no overlap -> no_application_protocol"
pqify_serve "${srv[@]}" --alpn h2 && {
  node_client "$srv_port" ca=$certs/ca.pem alpn=spdy/3
  wait_server
  expect "node exit status" "$nc_rc" 1
  expect "node got the alert" "$(jfield "$nc_log" error code)" ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL
  expect_match "pqify says why" "$(cat "$srv_log")" 'failed: .*no_application_protocol'
}

begin "--www: an HTTP page with the facts, SNI and ALPN included"
pqify_serve "${srv[@]}" --www --alpn http/1.1 && {
  node_client "$srv_port" ca=$certs/ca.pem http=true alpn=http/1.1
  wait_server
  page=$(jfield "$nc_log" done text)
  expect "node exit status" "$nc_rc" 0
  expect_match "status line" "$page" '^HTTP/1\.1 200 OK'
  expect_match "facts on the page" "$page" 'group=X25519MLKEM768 pq=yes hrr=no cipher=TLS_[A-Z0-9_]+ client_cert=- alpn=http/1.1 server_name=localhost handshake_us=[0-9]+'
}

begin "200 KB echo (many records each way)"
big="$work/big.txt"
make_payload "$big" 200000
pqify_serve "${srv[@]}" && {
  node_client "$srv_port" ca=$certs/ca.pem sendFile="$big"
  wait_server
  check_ok X25519MLKEM768 no
  expect "bytes back" "$(jfield "$nc_log" done received)" 200000
}

begin "without --once: concurrent connections, each in its own child"
srv_log="$casedir/pqify-serve.stderr"
timeout "$T" "$PQIFY_BIN" serve --listen 127.0.0.1:0 "${srv[@]}" 2>"$srv_log" >/dev/null &
multi_pid=$!
pids+=("$multi_pid")
if wait_for "$srv_log" '^listening on ' 10; then
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$srv_log" | head -1)
  cpids=()
  for i in 1 2 3 4; do
    timeout "$T" "$node" "$peers_js/tls_client.mjs" port="$port" ca="$certs/ca.pem" \
      send="client $i"$'\n' >"$casedir/client$i.jsonl" 2>&1 &
    cpids+=($!)
  done
  for i in 1 2 3 4; do
    wait "${cpids[$((i - 1))]}"
    expect "client $i exit" "$?" 0
    expect "client $i echo" "$(jfield "$casedir/client$i.jsonl" done ok)" true
  done
  expect "accepted lines" "$(grep -c '^accepted .*group=X25519MLKEM768' "$srv_log")" 4
  expect "server still running" "$(kill -0 "$multi_pid" 2>/dev/null && echo yes)" yes
  kill "$multi_pid" 2>/dev/null
else
  fail "pqify serve did not start listening"
fi

finish
