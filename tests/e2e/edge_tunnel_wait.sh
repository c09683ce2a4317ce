#!/usr/bin/env bash
# The edge holds a tunnel's requests while its only connector is away (tunnels:
# wait_for_connection, docs/tunnel.md "Losing the whole connector"):
#  - h2load GETs through pqify edge -> pqify tunnel -> nginx; the connector is killed
#    -9 and restarted mid-load: with the connector back within the wait, not one GET
#    fails (those in flight on the dead connections and those that arrived while none
#    was registered wait and go when it registers again), every one answered 2xx;
#  - a tunnel no connector serves answers 502 after the wait, and the edge's log says
#    which tunnel and how long it waited.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_edge.sh"
need_tool curl
need_tool nginx
need_tool h2load

chmod 755 "$work"   # nginx's workers run as nobody
mkdir -p "$work/www"
echo "through the tunnel" >"$work/www/index.html"
name=pqify-test-client   # the CN of client-p256.pem: the tunnel's name
wait_ms=5000

begin "origin, edge (wait_for_connection: ${wait_ms}ms) and connector"
start_nginx "$work/www" || finish
hub_port=$(free_port)
cat >"$work/edge.yaml" <<YAML
listen: [127.0.0.1:0]
admin: {listen: 127.0.0.1:0}
tls: {cert: $certs/server-p256.pem, key: $certs/server-p256.key}
tunnels: {listen: "127.0.0.1:$hub_port", cert: $certs/server-p256.pem, key: $certs/server-p256.key,
          ca: $certs/ca.pem, wait_for_connection: ${wait_ms}ms}
routes:
  - {hostname: localhost, path: /none/, tunnel: nobody}
  - {hostname: localhost, tunnel: $name}
YAML
start_edge --config "$work/edge.yaml" || finish

start_connector_flags "http://127.0.0.1:$ngx_port" || finish
expect "a GET through the tunnel" "$(ecurl "https://localhost:$edge_port/")" "through the tunnel"

begin "the only connector killed -9 and restarted under h2load"
timeout 120 h2load -n 40000 -c 8 -m 4 --connect-to="127.0.0.1:$edge_port" \
  "https://localhost:$edge_port/" >"$casedir/h2load.out" 2>&1 &
load_pid=$!
pids+=("$load_pid")
sleep 1
kill -9 "$tun_pid"
wait "$tun_tpid" 2>/dev/null
killed=$(date +%s%N)
start_connector_flags "http://127.0.0.1:$ngx_port" || finish
say "  the connector registered again $(( ($(date +%s%N) - killed) / 1000000 )) ms after the kill"
wait "$load_pid"
expect "h2load exits 0" "$?" 0
say "  $(grep -E '^requests:' "$casedir/h2load.out")"
expect_match "every GET succeeded" "$(cat "$casedir/h2load.out")" \
  "requests: 40000 total, 40000 started, 40000 done, 40000 succeeded, 0 failed, 0 errored, 0 timeout"
expect_match "every GET answered 2xx" "$(cat "$casedir/h2load.out")" "status codes: 40000 2xx, 0 3xx, 0 4xx, 0 5xx"
# the load really ran across the outage: the edge logged the lost connections
expect_match "the edge saw the connector's connections go down" "$(cat "$edge_log")" \
  "tunnel=$name connector=127.0.0.1:[0-9]+ down"
say "  requests sent again or held for a connection: $(metric "^pqify_tunnel_hub_retries_total\\{tunnel=\"$name\"")"

begin "a tunnel nobody serves: 502 after the wait"
t0=$(date +%s%N)
code=$(ecurl -o /dev/null -w '%{http_code}' "https://localhost:$edge_port/none/x")
took=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "no connector within the wait: 502" "$code" 502
[ "$took" -ge $((wait_ms - 100)) ] && pass || fail "the 502 came after $took ms, before the ${wait_ms} ms wait"
expect_match "the edge says which tunnel and how long it waited" "$(cat "$edge_log")" \
  "tunnel nobody for GET localhost:$edge_port/none/x: tunnel nobody has no registered connection \\(waited $wait_ms ms\\)"
stop_edge TERM
expect "the edge exits 0 on SIGTERM" "$edge_rc" 0
finish
