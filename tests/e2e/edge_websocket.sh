#!/usr/bin/env bash
# WebSocket through pqify edge (issue 13, "WebSocket upgrade passes through"): Node 24's
# own WebSocket client -> pqify edge (HTTP/1.1 Upgrade) -> pqify tunnel (an extended
# CONNECT, RFC 8441, on the tunnel's HTTP/2) -> a Node echo origin doing the RFC 6455
# handshake itself (tests/e2e/ws_peer.mjs); and the same through a direct route
# (origin: http://). Each run: the client checks the origin's Sec-WebSocket-Accept for
# its key (it fails otherwise), a text, a 1 MiB binary (by SHA-256) and 50 small texts
# come back, and its close (1000 "bye") is answered with the same code. The origin
# logs each upgrade it took: one per run.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_edge.sh"
need_node
need_tool curl
ws_js="$e2e_dir/ws_peer.mjs"
name=pqify-test-client   # the CN of client-p256.pem: the tunnel's name

begin "the WebSocket echo origin, the edge and the connector"
origin_out="$casedir/origin.out"
timeout 120 "$node" "$ws_js" origin >"$origin_out" 2>&1 &
pids+=("$!")
wait_for "$origin_out" '^listening on ' 10 || { fail "the origin did not start"; finish; }
ws_port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$origin_out")
hub_port=$(free_port)
cat >"$work/edge.yaml" <<YAML
listen: [127.0.0.1:0]
admin: {listen: 127.0.0.1:0}
tls: {cert: $certs/server-p256.pem, key: $certs/server-p256.key}
tunnels: {listen: "127.0.0.1:$hub_port", cert: $certs/server-p256.pem, key: $certs/server-p256.key, ca: $certs/ca.pem}
routes:
  - {hostname: localhost, path: /direct/, origin: "http://127.0.0.1:$ws_port"}
  - {hostname: localhost, tunnel: $name}
YAML
start_edge --config "$work/edge.yaml" || finish
start_connector_flags "http://127.0.0.1:$ws_port" || finish

# wsfield <json> <key>: one field of the client's JSON line
wsfield() {
  "$node" -e 'try { console.log(String(JSON.parse(process.argv[1])[process.argv[2]])) } catch { console.log("MISSING") }' "$1" "$2"
}

# run_client <path>: Node's WebSocket to wss://localhost:EDGE/<path>; checks what came back
run_client() {
  local out
  out=$(NODE_EXTRA_CA_CERTS="$certs/ca.pem" timeout 30 "$node" "$ws_js" client \
    "wss://localhost:$edge_port$1" 2>&1)
  say "  $1: $out"
  expect "$1: opened (the origin's Accept matched the client's key)" "$(wsfield "$out" opened)" true
  expect "$1: the first text came back" "$(wsfield "$out" firstText)" "hello through the edge"
  expect "$1: 51 texts came back" "$(wsfield "$out" texts)" 51
  expect "$1: the 1 MiB binary came back whole" "$(wsfield "$out" bigBytes)" 1048576
  expect "$1: ... byte for byte" "$(wsfield "$out" bigSha)" "$(wsfield "$out" wantSha)"
  expect "$1: the close was answered 1000" "$(wsfield "$out" closeCode)" 1000
  expect "$1: with its reason" "$(wsfield "$out" closeReason)" bye
  expect "$1: no error" "$(wsfield "$out" error)" null
}

begin "through the tunnel (extended CONNECT on the tunnel's HTTP/2)"
run_client /chat
expect "the origin took the upgrade from the connector" "$(grep -c '^upgrade /chat key=' "$origin_out")" 1

begin "through a direct route (origin: http://)"
run_client /direct/chat
expect "the origin took the upgrade from the edge" "$(grep -c '^upgrade /direct/chat key=' "$origin_out")" 1

begin "not a WebSocket: refused"
code=$(ecurl --http1.1 -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: h2c' "https://localhost:$edge_port/chat")
expect "an Upgrade to another protocol: 400" "$code" 400
expect "the edge's metrics count both switches (101)" "$(metric '^pqify_edge_requests_total\{.*status="101"')" 2
stop_edge TERM
expect "the edge exits 0 on SIGTERM" "$edge_rc" 0
finish
