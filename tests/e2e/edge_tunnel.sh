#!/usr/bin/env bash
# pqify edge with tunnels: (issues 12 and 13): curl (HTTP/1.1, HTTP/2) and Node 24 ->
# pqify edge -> pqify tunnel (the connector dials the edge's tunnels: listener over
# post-quantum mutual TLS) -> nginx and a Python upload origin on loopback.
#  - downloads (8 MiB, by SHA-256) and uploads (1 MB, the origin's SHA-256) both ways;
#  - the tunnel hop is X25519MLKEM768 (the edge's registration line and the
#    connector's /metrics); the client hop's group per client (the access log);
#  - a tunnel route with no connector answers 502 and the edge says why;
#  - the edge restarted: the connector registers again and its /ready is 200 within
#    seconds, and requests flow again;
#  - the connector killed (-9) and restarted while GETs run: the GETs that failed
#    while no connector was registered are counted and reported, the ones after the
#    re-registration all succeed.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_edge.sh"
need_node
need_tool curl
need_tool nginx

chmod 755 "$work"   # nginx's workers run as nobody
www="$work/www"
mkdir -p "$www"
echo hello >"$www/index.html"
head -c 8388608 /dev/urandom >"$www/big.bin"
big_sha=$(sha256sum "$www/big.bin" | cut -d' ' -f1)
head -c 1000000 /dev/urandom >"$work/up.bin"
up_sha=$(sha256sum "$work/up.bin" | cut -d' ' -f1)
name=pqify-test-client   # the CN of client-p256.pem: the tunnel's name

begin "origins"
start_nginx "$www" || finish
start_upload_origin || finish
hub_port=$(free_port)

cat >"$work/edge.yaml" <<YAML
listen: [127.0.0.1:0]
admin: {listen: 127.0.0.1:0}
tls: {cert: $certs/server-p256.pem, key: $certs/server-p256.key}
tunnels: {listen: "127.0.0.1:$hub_port", cert: $certs/server-p256.pem, key: $certs/server-p256.key, ca: $certs/ca.pem}
routes:
  - {hostname: localhost, path: /none/, tunnel: nobody}
  - {hostname: localhost, tunnel: $name}
access_log: {file: $work/access.jsonl}
YAML
cat >"$work/tunnel.yaml" <<YAML
tunnel: $name
edge: ["127.0.0.1:$hub_port"]
tls: {cert: $certs/client-p256.pem, key: $certs/client-p256.key, ca: $certs/ca.pem, server_name: localhost}
admin: {listen: 127.0.0.1:0}
ingress:
  - path: ^/up
    service: http://127.0.0.1:$up_port
  - service: http://127.0.0.1:$ngx_port
YAML

start_connector() {
  tun_log="$casedir/tunnel-$RANDOM.stderr"
  timeout 300 "$PQIFY_BIN" tunnel --config "$work/tunnel.yaml" 2>"$tun_log" >/dev/null &
  tun_tpid=$!
  pids+=("$tun_tpid")
  wait_for "$tun_log" 'admin endpoint on' 10 || { fail "pqify tunnel did not start"; return 1; }
  tun_adm=$(sed -n 's/^pqify tunnel: admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$tun_log" | head -1)
  tun_pid=$(pgrep -P "$tun_tpid" -n)
  pids+=("$tun_pid")
}
ready() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$tun_adm/ready"; }
wait_ready() { # wait_ready <seconds>: 0 once the connector's /ready is 200
  local i
  for i in $(seq 1 $(($1 * 10))); do
    [ "$(ready)" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
tget() { ecurl -o "$1" -w '%{http_code}' "${@:2}"; }

begin "edge and connector"
"$PQIFY_BIN" edge --config "$work/edge.yaml" --check-config >"$casedir/check.out" 2>&1
expect "--check-config accepts tunnels: and tunnel routes" "$?" 0
start_edge --config "$work/edge.yaml" || finish
expect_match "the edge announces its tunnels listener" "$(cat "$edge_log")" \
  "pqify edge: tunnels on 127.0.0.1:$hub_port \\(pq required, mutual TLS\\)"
start_connector || finish
wait_ready 10 && pass || fail "the connector is not ready (/ready $(ready))"
wait_for "$edge_log" "registered tunnel=$name" 10
expect_match "the tunnel hop registered over X25519MLKEM768" "$(cat "$edge_log")" \
  "registered tunnel=$name connector=127.0.0.1:[0-9]+ group=X25519MLKEM768"
m=$(curl -s --max-time 5 "http://127.0.0.1:$tun_adm/metrics")
if grep -E '^pqify_tls_handshakes_total\{role="client",group="X25519MLKEM768"' <<<"$m" | grep -qv ' 0$' &&
  ! grep -E '^pqify_tls_handshakes_total\{role="client",group="(x25519|X25519|secp256r1)"' <<<"$m" | grep -qv ' 0$'; then
  pass
else
  fail "the connector's handshakes are not all X25519MLKEM768: $(grep '^pqify_tls_handshakes_total' <<<"$m")"
fi

begin "the edge's /metrics counts the tunnel hop's handshakes"
# The hub listener's handshakes count in the edge's pqify_tls_* families, next to the
# public listener's (one family per registry, role="server"). No client has connected
# to the public listener yet: every server handshake so far is a tunnel connection.
for i in $(seq 1 100); do
  [ "$(grep -c "registered tunnel=$name" "$edge_log")" -ge 4 ] && break
  sleep 0.1
done
n_reg=$(grep -c "registered tunnel=$name" "$edge_log")
expect "the connector's four connections registered" "$n_reg" 4
m=$(curl -s --max-time 5 "http://127.0.0.1:$adm_port/metrics")
expect "edge /metrics: the tunnel hop's X25519MLKEM768 server handshakes" \
  "$(sed -n 's/^pqify_tls_handshakes_total{role="server",group="X25519MLKEM768",pq="true",hrr="false"} //p' <<<"$m")" "$n_reg"
expect "edge /metrics: the same in the duration histogram" \
  "$(sed -n 's/^pqify_tls_handshake_duration_seconds_count{role="server",group="X25519MLKEM768",pq="true"} //p' <<<"$m")" "$n_reg"
expect "edge /metrics: each TLS family declared once" \
  "$(grep -c '^# TYPE pqify_tls_handshakes_total counter$' <<<"$m")" 1
if command -v promtool >/dev/null; then
  out=$(promtool check metrics <<<"$m" 2>&1)
  expect "promtool check metrics accepts the edge's /metrics" "$?" 0
  [ -z "$out" ] || say "  promtool: $out"
else
  say "  promtool not installed: the exposition format is not checked by it"
fi

begin "through the tunnel: downloads and uploads"
for v in --http1.1 --http2; do
  expect "GET / $v" "$(ecurl $v "https://localhost:$edge_port/")" hello
  code=$(tget "$work/big$v" $v "https://localhost:$edge_port/big.bin")
  expect "GET big.bin $v status" "$code" 200
  expect "8 MiB download $v intact" "$(sha256sum <"$work/big$v" | cut -d' ' -f1)" "$big_sha"
  out=$(ecurl $v --data-binary @"$work/up.bin" "https://localhost:$edge_port/up")
  expect_match "1 MB upload $v reached the origin intact" "$out" "\"bytes\": 1000000, \"sha256\": \"$up_sha\""
done

begin "through the tunnel: a chunked upload (no length known in advance)"
# curl -T - reads stdin: on HTTP/1.1 it sends Transfer-Encoding: chunked, on HTTP/2
# DATA frames with no content-length; the edge and the connector relay the body as it
# comes and the connector frames it chunked toward the origin, which counts and hashes
# what it received. An odd size (3 MB + 7) so the last chunk is not a round one.
head -c 3000007 /dev/urandom >"$work/chunked.bin"
ch_sha=$(sha256sum "$work/chunked.bin" | cut -d' ' -f1)
for v in --http1.1 --http2; do
  out=$(ecurl $v -T - -X POST "https://localhost:$edge_port/up/chunked" <"$work/chunked.bin")
  expect_match "chunked upload $v: the origin got 3000007 bytes, intact" "$out" \
    "\"bytes\": 3000007, \"sha256\": \"$ch_sha\""
  expect_match "chunked upload $v: the origin saw it chunked" "$out" '"Transfer-Encoding": "chunked"'
done
out=$(ecurl --http1.1 -T - -X POST -H 'Expect: 100-continue' "https://localhost:$edge_port/up/chunked" <"$work/chunked.bin")
expect_match "chunked upload with Expect: 100-continue: intact" "$out" "\"bytes\": 3000007, \"sha256\": \"$ch_sha\""
# a slow client: the edge's queue toward it fills, so the hub's credit must be given
# back as it drains (else the download would stall after the first 1 MiB)
for v in --http1.1 --http2; do
  code=$(tget "$work/slow$v" $v --limit-rate 4M "https://localhost:$edge_port/big.bin")
  expect "slow client $v: status" "$code" 200
  expect "slow client $v: 8 MiB intact" "$(sha256sum <"$work/slow$v" | cut -d' ' -f1)" "$big_sha"
done
out=$(timeout 60 "$node" --input-type=module -e '
  import https from "node:https"; import fs from "node:fs"; import crypto from "node:crypto";
  const [port, ca] = process.argv.slice(1);
  const req = https.get({host: "127.0.0.1", port: +port, path: "/big.bin", ca: fs.readFileSync(ca),
    servername: "localhost", headers: {host: "localhost"}, ecdhCurve: "X25519MLKEM768"}, (res) => {
    const h = crypto.createHash("sha256"), group = res.socket.getEphemeralKeyInfo().name;
    res.on("data", (d) => h.update(d));
    res.on("end", () => console.log(group + " " + res.statusCode + " " + h.digest("hex")));
  });
  req.on("error", (e) => console.log("error " + e.message));
' "$edge_port" "$certs/ca.pem" 2>&1)
expect "Node 24 download through the tunnel" "$out" "X25519MLKEM768 200 $big_sha"
alog=$(cat "$work/access.jsonl")
expect_match "the access log: curl's hop X25519 (pq preferred lets it in)" "$alog" \
  '"proto":"http/1.1","status":200,.*"route":"localhost/","tls_group":"x25519","pq":false'
expect_match "the access log: Node's hop X25519MLKEM768" "$alog" \
  '"path":"/big.bin","proto":"http/1.1","status":200,"bytes":8388608,.*"tls_group":"X25519MLKEM768","pq":true'

begin "a tunnel with no connector"
code=$(ecurl -o /dev/null -w '%{http_code}' "https://localhost:$edge_port/none/x")
expect "no connector registered: 502" "$code" 502
expect_match "the edge says which tunnel" "$(cat "$edge_log")" "tunnel nobody for GET localhost:$edge_port/none/x: tunnel nobody has no registered connection"

begin "the edge restarted: the connector is back"
stop_edge TERM
expect "the edge exits 0 on SIGTERM" "$edge_rc" 0
start_edge --config "$work/edge.yaml" || finish
t0=$(date +%s%N)
wait_for "$edge_log" "registered tunnel=$name" 15 && pass || fail "the connector did not register again"
wait_ready 15 && pass || fail "the connector's /ready is not 200 after the restart"
t1=$(date +%s%N)
say "  connector registered and ready $(((t1 - t0) / 1000000)) ms after the edge restarted"
expect "GET through the restarted edge" "$(ecurl "https://localhost:$edge_port/")" hello

begin "one of the four tunnel connections killed under h2load: zero failed GETs"
# ss -K destroys one established socket of the connector (a network fault on one
# connection: the edge's side sees it reset); the hub retries the idempotent GETs
# that were on it on the other three.
if command -v h2load >/dev/null; then
  n_reg=$(grep -c "registered tunnel=$name" "$edge_log")
  timeout 120 h2load -n 20000 -c 4 -m 8 "https://127.0.0.1:$edge_port/" -H ':authority: localhost' \
    >"$casedir/h2load.out" 2>&1 &
  h2_pid=$!
  pids+=("$h2_pid")
  sleep 0.5
  sport=$(ss -Htn state established "( dport = :$hub_port )" | awk '{print $3}' | sed 's/.*://' | head -1)
  ss -K -tn state established "( dport = :$hub_port and sport = :$sport )" >/dev/null 2>&1
  wait "$h2_pid"
  sleep 0.5
  h2=$(grep -E '^requests:' "$casedir/h2load.out")
  say "  h2load: $h2 (connection 127.0.0.1:$sport of the connector killed)"
  if [ "$(grep -c "registered tunnel=$name" "$edge_log")" -gt "$n_reg" ]; then
    expect_match "h2load: all 20000 GETs succeeded with one tunnel connection killed" "$h2" \
      'requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored'
    say "  hub retries: $(metric '^pqify_tunnel_hub_retries_total')"
  else
    fail "ss -K did not kill a tunnel connection here (no new registration): the fault was not injected"
  fi
else
  say "  h2load not installed: the one-connection fault is not tested"
fi

begin "the connector killed -9 and restarted while GETs run"
# What the design guarantees: an idempotent request whose connection dies is retried
# on another registered connection; with the connector killed all its connections die
# at once, so GETs sent while none is registered fail (502) until it is back. The
# counts are reported, and every GET after the re-registration must succeed.
( for i in $(seq 1 400); do
    ecurl -o /dev/null -w '%{http_code}\n' --max-time 10 "https://localhost:$edge_port/" 2>/dev/null || echo 000
  done >"$casedir/gets.txt" ) &
gets_pid=$!
pids+=("$gets_pid")
sleep 1
kill -9 "$tun_pid"
wait "$tun_tpid" 2>/dev/null
sleep 0.5
start_connector || finish
wait_ready 15 && pass || fail "the restarted connector is not ready"
after=$(wc -l <"$casedir/gets.txt")
wait "$gets_pid"
ok=$(grep -c '^200$' "$casedir/gets.txt")
bad=$(grep -vc '^200$' "$casedir/gets.txt")
say "  GETs: $ok answered 200, $bad failed (the connector down: killed -9, restarted); $after were done when it was ready"
expect "no GET failed after the connector was ready again" "$(tail -n +"$((after + 2))" "$casedir/gets.txt" | grep -vc '^200$')" 0
expect "every GET was answered 200 or failed cleanly with 502" "$(grep -Evc '^(200|502)$' "$casedir/gets.txt")" 0
stop_edge TERM
expect "the edge exits 0 on SIGTERM" "$edge_rc" 0

finish
