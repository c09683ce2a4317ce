#!/usr/bin/env bash
# Classical fallback against Debian's peers, which have no ML-KEM: openssl 3.0
# (s_client / s_server), GnuTLS (gnutls-cli / gnutls-serv) and curl. pqify in
# pq=preferred must complete with a classical group in both roles; in
# pq=required it must refuse with insufficient_security and say so.
. "$(dirname "$0")/lib.sh"
need_tool openssl
need_tool gnutls-cli
need_tool gnutls-serv
need_tool curl

key=(-cert "$certs/server-p256.pem" -key "$certs/server-p256.key")
line="$work/line.txt"
printf 'abc def\n' >"$line"

# ---- pqify connect -> openssl s_server ------------------------------------------
# openssl_server <extra args...>: s_server for one connection, answering each
# line reversed (-rev); sets srv_pid, srv_port, srv_log.
openssl_server() {
  srv_log="$casedir/s_server.out"
  timeout "$T" openssl s_server -accept 127.0.0.1:0 -naccept 1 -tls1_3 -rev "${key[@]}" "$@" \
    >"$srv_log" 2>&1 &
  srv_pid=$!
  pids+=("$srv_pid")
  if ! wait_for "$srv_log" '^ACCEPT' 10; then
    fail "openssl s_server did not start"
    return 1
  fi
  srv_port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$srv_log")
}

begin "pqify connect (preferred) -> openssl s_server"
openssl_server && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost
  wait_server
  expect "exit status" "$cli_rc" 0
  expect_group "group" "$(field "$cli_line" group)" X25519
  expect "pq" "$(field "$cli_line" pq)" no
  expect "hrr (the X25519 share was there)" "$(field "$cli_line" hrr)" no
  expect "reversed line came back" "$(cat "$cli_out")" "fed cba"
  expect_match "s_server saw TLS 1.3" "$(cat "$srv_log")" 'Protocol version: TLSv1.3'
}

begin "pqify connect (preferred) -> openssl s_server limited to P-256: HRR"
openssl_server -groups P-256 && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost
  wait_server
  expect "exit status" "$cli_rc" 0
  expect_group "group" "$(field "$cli_line" group)" P-256
  expect "hrr" "$(field "$cli_line" hrr)" yes
  expect "reversed line came back" "$(cat "$cli_out")" "fed cba"
}

begin "pqify connect (off) -> openssl s_server"
openssl_server && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost --pq off
  wait_server
  expect "exit status" "$cli_rc" 0
  expect_group "group" "$(field "$cli_line" group)" X25519
}

begin "pqify connect (required) -> openssl s_server: refused"
openssl_server && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost --pq required
  kill "$srv_pid" 2>/dev/null
  wait_server
  expect "exit status" "$cli_rc" 1
  expect "no connected line" "$cli_line" ""
  expect_match "error says why" "$(cat "$cli_err")" 'failed: .*post-quantum.*insufficient_security'
}

begin "pqify connect mutual TLS -> openssl s_server -Verify"
openssl_server -Verify 1 -verify_return_error -CAfile "$certs/ca.pem" && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost \
    --cert "$certs/client-rsa.pem" --key "$certs/client-rsa.key"
  wait_server
  expect "exit status" "$cli_rc" 0
  expect "reversed line came back" "$(cat "$cli_out")" "fed cba"
  expect_match "s_server verified the client" "$(cat "$srv_log")" 'Peer certificate: CN ?= ?pqify-test-client-rsa'
}

# ---- openssl s_client -> pqify serve ----------------------------------------------
# s_client <port> <extra...>: one HTTP/1.0 request (pqify serve --www closes
# after answering it); sets sc_rc, sc_out, sc_err.
s_client() {
  local port=$1
  shift
  sc_out="$casedir/s_client.out"
  sc_err="$casedir/s_client.err"
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$T" openssl s_client -connect 127.0.0.1:"$port" \
    -CAfile "$certs/ca.pem" -servername localhost -verify_return_error -brief -ign_eof "$@" \
    >"$sc_out" 2>"$sc_err"
  sc_rc=$?
}

begin "openssl s_client -> pqify serve (preferred)"
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --www && {
  s_client "$srv_port"
  wait_server
  acc=$(grep -m1 '^accepted ' "$srv_log")
  expect "s_client exit" "$sc_rc" 0
  expect "serve exit" "$srv_rc" 0
  expect_group "pqify group" "$(field "$acc" group)" X25519
  expect "pqify pq" "$(field "$acc" pq)" no
  expect "pqify hrr" "$(field "$acc" hrr)" no
  expect_match "s_client's view" "$(cat "$sc_err")" 'Server Temp Key: X25519'
  expect_match "page" "$(cat "$sc_out")" 'group=x25519 pq=no hrr=no'
}

begin "openssl s_client (P-384 first) -> pqify serve (preferred)"
pqify_serve --cert "$certs/server-p384.pem" --key "$certs/server-p384.key" --www && {
  s_client "$srv_port" -groups P-384:X25519
  wait_server
  expect "s_client exit" "$sc_rc" 0
  expect_group "pqify group" "$(field "$(grep -m1 '^accepted ' "$srv_log")" group)" P-384
  expect_match "s_client's view" "$(cat "$sc_err")" 'Server Temp Key: ECDH, (P-384|secp384r1)'
}

begin "openssl s_client -> pqify serve (required): insufficient_security"
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --www --pq required && {
  s_client "$srv_port"
  wait_server
  expect "serve exit" "$srv_rc" 1
  expect_match "pqify says why" "$(cat "$srv_log")" 'failed: .*post-quantum.*insufficient_security'
  expect_match "s_client got the alert" "$(cat "$sc_err")" 'alert insufficient security'
}

begin "openssl s_client with a client certificate -> pqify serve --ca"
pqify_serve --cert "$certs/server-ed25519.pem" --key "$certs/server-ed25519.key" --www --ca "$certs/ca.pem" && {
  s_client "$srv_port" -cert "$certs/client-p256.pem" -key "$certs/client-p256.key"
  wait_server
  expect "s_client exit" "$sc_rc" 0
  expect "client_cert" "$(field "$(grep -m1 '^accepted ' "$srv_log")" client_cert)" CN=pqify-test-client
  expect_match "page" "$(cat "$sc_out")" 'client_cert=CN=pqify-test-client'
}

# ---- pqify connect -> gnutls-serv -------------------------------------------------
# gnutls_server [--priority=...]: an echo server on a free port (gnutls-serv
# binds the wildcard address; the tests only ever connect to 127.0.0.1).
gnutls_server() {
  srv_log="$casedir/gnutls-serv.out"
  timeout "$T" gnutls-serv --port 0 --echo --x509certfile "$certs/server-p256.pem" \
    --x509keyfile "$certs/server-p256.key" "$@" >"$srv_log" 2>&1 &
  srv_pid=$!
  pids+=("$srv_pid")
  if ! wait_for "$srv_log" 'listening on IPv4' 10 || ! srv_port=$(listen_port_of "$srv_pid"); then
    fail "gnutls-serv did not start"
    return 1
  fi
}

begin "pqify connect (preferred) -> gnutls-serv"
gnutls_server && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost
  expect "exit status" "$cli_rc" 0
  expect_group "group" "$(field "$cli_line" group)" X25519
  expect "pq" "$(field "$cli_line" pq)" no
  expect "hrr" "$(field "$cli_line" hrr)" no
  expect "echo" "$(cat "$cli_out")" "abc def"
  kill "$srv_pid" 2>/dev/null
}

begin "pqify connect (preferred) -> gnutls-serv limited to SECP256R1: HRR"
gnutls_server --priority=NORMAL:-GROUP-ALL:+GROUP-SECP256R1 && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost
  expect "exit status" "$cli_rc" 0
  expect_group "group" "$(field "$cli_line" group)" P-256
  expect "hrr" "$(field "$cli_line" hrr)" yes
  expect "echo" "$(cat "$cli_out")" "abc def"
  kill "$srv_pid" 2>/dev/null
}

begin "pqify connect (required) -> gnutls-serv: refused"
gnutls_server && {
  pqify_connect "$srv_port" "$line" --ca "$certs/ca.pem" --servername localhost --pq required
  expect "exit status" "$cli_rc" 1
  expect_match "error says why" "$(cat "$cli_err")" 'failed: .*post-quantum.*insufficient_security'
  kill "$srv_pid" 2>/dev/null
}

# ---- gnutls-cli -> pqify serve ----------------------------------------------------
begin "gnutls-cli -> pqify serve (preferred)"
pqify_serve --cert "$certs/server-rsa.pem" --key "$certs/server-rsa.key" && {
  timeout "$T" gnutls-cli --port "$srv_port" --x509cafile "$certs/ca.pem" localhost \
    <"$line" >"$casedir/gnutls-cli.out" 2>"$casedir/gnutls-cli.err"
  wait_server
  acc=$(grep -m1 '^accepted ' "$srv_log")
  expect "serve exit" "$srv_rc" 0
  expect_group "pqify group" "$(field "$acc" group)" X25519
  expect "pqify pq" "$(field "$acc" pq)" no
  expect_match "gnutls-cli's view" "$(cat "$casedir/gnutls-cli.out" "$casedir/gnutls-cli.err")" \
    '\(TLS1\.3-X\.509\)-\(ECDHE-X25519\)-\(RSA-PSS-RSAE-SHA256\)'
  expect_match "echo" "$(cat "$casedir/gnutls-cli.out")" '^abc def$'
}

begin "gnutls-cli -> pqify serve (required): insufficient_security"
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --pq required && {
  timeout "$T" gnutls-cli --port "$srv_port" --x509cafile "$certs/ca.pem" localhost \
    <"$line" >"$casedir/gnutls-cli.out" 2>"$casedir/gnutls-cli.err"
  wait_server
  expect "serve exit" "$srv_rc" 1
  expect_match "pqify says why" "$(cat "$srv_log")" 'failed: .*post-quantum.*insufficient_security'
  expect_match "gnutls-cli got the alert" "$(cat "$casedir/gnutls-cli.out" "$casedir/gnutls-cli.err")" \
    'Received alert \[71\]: Insufficient security'
}

# ---- KeyUpdate (RFC 8446 §4.6.3) with OpenSSL -----------------------------------
# Interactive peers driven through FIFOs, each step waiting for the previous
# one to show up in the peer's output.
begin "KeyUpdate: openssl s_client asks pqify serve to update too"
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --www && {
  mkfifo "$casedir/s_client.in"
  timeout "$T" openssl s_client -connect 127.0.0.1:"$srv_port" -CAfile "$certs/ca.pem" \
    -servername localhost -verify_return_error -brief <"$casedir/s_client.in" \
    >"$casedir/s_client.out" 2>"$casedir/s_client.err" &
  sc_pid=$!
  pids+=("$sc_pid")
  exec 7>"$casedir/s_client.in"
  if wait_for "$casedir/s_client.err" 'CONNECTION ESTABLISHED' 10; then
    printf 'K\n' >&7   # s_client command: KeyUpdate with update_requested
    wait_for "$casedir/s_client.err" '^KEYUPDATE' 10 || fail "s_client sent no KeyUpdate"
    printf 'GET / HTTP/1.0\r\n\r\n' >&7
    wait_for "$casedir/s_client.out" '</html>' 10
  fi
  exec 7>&-
  wait "$sc_pid"
  wait_server
  expect "serve exit" "$srv_rc" 0
  # s_client could read the page only if pqify switched its sending key in step.
  expect_match "page read after the update" "$(cat "$casedir/s_client.out")" \
    'key_updates_received=1 key_updates_sent=1'
}

begin "KeyUpdate: openssl s_server asks pqify connect to update too"
mkfifo "$casedir/s_server.in" "$casedir/connect.in"
srv_log="$casedir/s_server.out"
timeout "$T" openssl s_server -accept 127.0.0.1:0 -naccept 1 -tls1_3 -msg "${key[@]}" \
  <"$casedir/s_server.in" >"$srv_log" 2>&1 &
srv_pid=$!
pids+=("$srv_pid")
exec 7>"$casedir/s_server.in"
if wait_for "$srv_log" '^ACCEPT' 10; then
  srv_port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$srv_log")
  cli_out="$casedir/pqify-connect.stdout"
  cli_err="$casedir/pqify-connect.stderr"
  timeout "$T" "$PQIFY_BIN" connect "127.0.0.1:$srv_port" --ca "$certs/ca.pem" --servername localhost \
    <"$casedir/connect.in" >"$cli_out" 2>"$cli_err" &
  cli_pid=$!
  pids+=("$cli_pid")
  exec 8>"$casedir/connect.in"
  if wait_for "$cli_err" '^connected ' 10; then
    printf 'K\n' >&7   # s_server command: KeyUpdate with update_requested
    wait_for "$srv_log" '<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate' 10 ||
      fail "pqify did not answer the KeyUpdate"
    printf 'from server\n' >&7
    wait_for "$cli_out" '^from server$' 10
    printf 'from client\n' >&8
    wait_for "$srv_log" '^from client$' 10
  fi
  exec 8>&-
  wait "$cli_pid"
  cli_rc=$?
  exec 7>&-
  wait_server
  expect "connect exit" "$cli_rc" 0
  expect "s_server sent KeyUpdate" "$(grep -c '>>> TLS 1.3, Handshake \[length 0005\], KeyUpdate' "$srv_log")" 1
  expect "pqify answered with KeyUpdate" "$(grep -c '<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate' "$srv_log")" 1
  expect "server -> client after the update" "$(cat "$cli_out")" "from server"
  expect_match "client -> server after the update" "$(cat "$srv_log")" '^from client$'
else
  exec 7>&-
  fail "openssl s_server did not start"
fi

# ---- curl -> pqify serve --www ----------------------------------------------------
begin "curl -> pqify serve --www"
pqify_serve --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --www && {
  timeout "$T" curl -sS --cacert "$certs/ca.pem" "https://localhost:$srv_port/" \
    >"$casedir/curl.out" 2>"$casedir/curl.err"
  curl_rc=$?
  wait_server
  expect "curl exit" "$curl_rc" 0
  expect_match "page" "$(cat "$casedir/curl.out")" 'version=TLSv1\.3 group=x25519 pq=no hrr=no'
  expect_match "SNI reached pqify" "$(cat "$casedir/curl.out")" 'server_name=localhost'
}

finish
