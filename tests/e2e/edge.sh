#!/usr/bin/env bash
# pqify edge end to end (issue 12): nginx (files) and a Python upload origin behind the
# edge; curl over HTTP/1.1 and HTTP/2 (classical X25519: pq preferred lets it in),
# Node 24 over X25519MLKEM768 on both ALPNs; routes (exact, wildcard, path, unix:,
# https:// through pqify serve), forwarded headers, every limit and the malformed
# requests with their answers, the access log, /metrics (promtool), SIGHUP with a new
# route under h2load (zero failures), SIGTERM.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_edge.sh"
need_node
need_tool curl
need_tool nginx
need_tool h2load
need_tool promtool

chmod 755 "$work"   # nginx's workers run as nobody
www="$work/www"
mkdir -p "$www/sub"
echo hello >"$www/index.html"
echo sub >"$www/sub/x.txt"
head -c 8388608 /dev/urandom >"$www/big.bin"
big_sha=$(sha256sum "$www/big.bin" | cut -d' ' -f1)

begin "origins"
start_nginx "$www" || finish
start_upload_origin || finish
http_up=$up_port
sock="$work/app.sock"
start_upload_origin --unix "$sock" || finish
up_port=$http_up
dead_port=$(free_port)   # nobody listens here: 502
# an https:// origin: pqify serve --www answers with the facts of its own hop
timeout 600 "$PQIFY_BIN" serve --www --listen 127.0.0.1:0 --cert "$certs/server-p256.pem" \
  --key "$certs/server-p256.key" 2>"$casedir/serve.stderr" >/dev/null &
pids+=("$!")
wait_for "$casedir/serve.stderr" '^listening on ' 10 || fail "pqify serve did not start"
tls_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$casedir/serve.stderr" | head -1)
slow_port=$up_port

cat >"$work/edge.yaml" <<YAML
listen: [127.0.0.1:0]
admin: {listen: 127.0.0.1:0}
tls: {cert: $certs/server-p256.pem, key: $certs/server-p256.key}
routes:
  - {hostname: localhost, path: /up, origin: "http://127.0.0.1:$up_port"}
  - {hostname: localhost, path: /echo-headers, origin: "http://127.0.0.1:$up_port"}
  - {hostname: localhost, path: /slow, origin: "http://127.0.0.1:$slow_port"}
  - {hostname: localhost, path: /dead/, origin: "http://127.0.0.1:$dead_port"}
  - {hostname: "*.example.com", origin: "unix:$sock"}
  - {hostname: localhost, path: /tls/, origin: "https://localhost:$tls_port"}
  - {hostname: localhost, origin: "http://127.0.0.1:$ngx_port"}
origin_ca: $certs/ca.pem
limits: {max_header_bytes: 4096, max_body_bytes: 1048576, header_timeout: 1s, origin_timeout: 1s}
access_log: {file: $work/access.jsonl}
YAML

begin "edge starts from edge.yaml"
start_edge --config "$work/edge.yaml" || finish
expect_match "startup line" "$(cat "$edge_log")" 'pqify edge: 7 routes, pq=preferred'

begin "curl HTTP/1.1 and HTTP/2 (classical X25519 falls back: pq preferred)"
out=$(ecurl --http1.1 -D - "https://localhost:$edge_port/index.html")
expect_match "HTTP/1.1 body" "$out" 'hello'
expect_match "HTTP/1.1 Via" "$out" '(?i)via: 1.1 pqify-edge|Via: 1.1 pqify-edge'
out=$(ecurl --http2 -w '%{http_version}' "https://localhost:$edge_port/sub/x.txt")
expect "HTTP/2 body and version" "$out" "$(printf 'sub\n2')"
for v in --http1.1 --http2; do
  sha=$(ecurl $v "https://localhost:$edge_port/big.bin" | sha256sum | cut -d' ' -f1)
  expect "8 MiB file over $v" "$sha" "$big_sha"
done
out=$(ecurl --http1.1 -I "https://localhost:$edge_port/big.bin" | tr -d '\r' | grep -i '^content-length')
expect "HEAD keeps the length" "$out" "Content-Length: 8388608"

begin "Node 24: X25519MLKEM768 on both ALPNs"
for m in h1 h2; do
  out=$(timeout 60 "$node" "$edge_node_js" "$m" "$edge_port" "$certs/ca.pem" /big.bin 2>&1)
  want_alpn=$([ "$m" = h1 ] && echo http/1.1 || echo h2)
  expect "node $m" "$out" "$(printf 'group X25519MLKEM768\nalpn %s\nstatus 200\nvia %s pqify-edge\nsha256 %s\nbytes 8388608' \
    "$want_alpn" "$([ "$m" = h1 ] && echo 1.1 || echo 2)" "$big_sha")"
done
line=$(grep '"proto":"h2"' "$work/access.jsonl" | grep '"path":"/big.bin"' | grep -v x25519 | tail -1)
expect_match "access log: the group Node negotiated" "$line" '"tls_group":"X25519MLKEM768","pq":true,"hrr":false'

begin "uploads stream through (Content-Length and chunked, both protocols)"
head -c 1000000 /dev/urandom >"$work/up.bin"
up_sha=$(sha256sum "$work/up.bin" | cut -d' ' -f1)
for v in --http1.1 --http2; do
  out=$(ecurl $v --data-binary @"$work/up.bin" "https://localhost:$edge_port/up")
  expect "POST $v: origin counted" "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes"], d["sha256"])' <<<"$out")" "1000000 $up_sha"
  out=$(ecurl $v -H 'Transfer-Encoding: chunked' -X PUT --data-binary @"$work/up.bin" "https://localhost:$edge_port/up")
  expect "chunked PUT $v: origin counted" "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes"], d["sha256"])' <<<"$out")" "1000000 $up_sha"
done

begin "forwarded headers set, hop-by-hop dropped"
out=$(ecurl --http1.1 -H 'Connection: keep-alive, X-Secret' -H 'X-Secret: 1' -H 'Keep-Alive: timeout=5' \
  -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: http' -H 'Via: 1.0 upstream' \
  -H 'X-Keep: yes' "https://localhost:$edge_port/echo-headers")
hdrs=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join("%s: %s" % (k.lower(), v) for k, v in d["headers"]))' <<<"$out")
expect_match "X-Forwarded-For appended" "$hdrs" '^x-forwarded-for: 203\.0\.113\.7, 127\.0\.0\.1$'
expect_match "X-Forwarded-Proto https" "$hdrs" '^x-forwarded-proto: https$'
expect_match "Via appended" "$hdrs" '^via: 1\.0 upstream, 1\.1 pqify-edge$'
expect_match "other fields kept" "$hdrs" '^x-keep: yes$'
if grep -Eq '^(x-secret|keep-alive|connection):' <<<"$hdrs"; then fail "hop-by-hop fields reached the origin: $hdrs"; else pass; fi
out=$(ecurl --http2 "https://localhost:$edge_port/echo-headers" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join("%s: %s" % (k.lower(), v) for k, v in d["headers"]))')
expect_match "HTTP/2 request: Via 2" "$out" '^via: 2 pqify-edge$'
expect_match "HTTP/2 request: Host from :authority" "$out" "^host: localhost:$edge_port\$"

begin "routes: wildcard to a unix: origin, no route 404"
out=$(ecurl --http1.1 --resolve "app.example.com:$edge_port:127.0.0.1" -k "https://app.example.com:$edge_port/w")
expect "one-label wildcard to unix:" "$out" '{"path": "/w"}'
code=$(ecurl --http1.1 -k -o /dev/null -w '%{http_code}' --resolve "a.b.example.com:$edge_port:127.0.0.1" "https://a.b.example.com:$edge_port/")
expect "two labels do not match the wildcard: 404" "$code" 404
code=$(ecurl --http2 -k -o /dev/null -w '%{http_code}' --resolve "example.com:$edge_port:127.0.0.1" "https://example.com:$edge_port/")
expect "the bare domain does not match either: 404 (HTTP/2)" "$code" 404

begin "an https:// origin: verified, X25519MLKEM768 on the way out too"
for v in --http1.1 --http2; do
  out=$(ecurl $v "https://localhost:$edge_port/tls/a")
  expect_match "$v through the engine to pqify serve" "$out" 'group=X25519MLKEM768 pq=yes .* alpn=http/1.1 server_name=localhost'
done

begin "limits: 431 413 408 502 504"
code=$(ecurl --http1.1 -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 5000 /dev/zero | tr '\0' a)" "https://localhost:$edge_port/")
expect "HTTP/1.1 header over 4096 bytes" "$code" 431
code=$(ecurl --http2 -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 5000 /dev/zero | tr '\0' a)" "https://localhost:$edge_port/")
expect "HTTP/2 header over 4096 bytes" "$code" 431
head -c 2000000 /dev/zero >"$work/2m.bin"
for v in --http1.1 --http2; do
  code=$(ecurl $v -o /dev/null -w '%{http_code}' --data-binary @"$work/2m.bin" "https://localhost:$edge_port/up")
  expect "$v Content-Length over 1 MiB" "$code" 413
  code=$(ecurl $v -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$work/2m.bin" "https://localhost:$edge_port/up")
  expect "$v chunked body over 1 MiB" "$code" 413
  code=$(ecurl $v -o /dev/null -w '%{http_code}' "https://localhost:$edge_port/dead/x")
  expect "$v origin refused" "$code" 502
  code=$(ecurl $v -o /dev/null -w '%{http_code}' "https://localhost:$edge_port/slow?ms=3000")
  expect "$v origin too slow" "$code" 504
done
raw_send 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Half: ' 5
expect "a head not finished within header_timeout" "$raw_out" "$(printf 'HTTP/1.1 408 Request Timeout\nclosed\n1')"

begin "malformed requests: 400 and closed; the edge serves on"
raw_send 'POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'
expect "bad chunk size" "$raw_out" "$(printf 'HTTP/1.1 400 Bad Request\nclosed\n1')"
raw_send 'POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n'
expect "Content-Length and Transfer-Encoding (smuggling)" "$raw_out" "$(printf 'HTTP/1.1 400 Bad Request\nclosed\n1')"
raw_send 'POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'
expect "two differing Content-Length" "$raw_out" "$(printf 'HTTP/1.1 400 Bad Request\nclosed\n1')"
raw_send 'POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
expect "a coding before chunked" "$raw_out" "$(printf 'HTTP/1.1 400 Bad Request\nclosed\n1')"
raw_send 'GET / HTTP/1.1\r\n\r\n'
expect "HTTP/1.1 without Host" "$raw_out" "$(printf 'HTTP/1.1 400 Bad Request\nclosed\n1')"
raw_send 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /sub/x.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
expect "two pipelined requests answered in order, then closed" "$raw_out" "$(printf 'HTTP/1.1 200 OK\nclosed\n2')"
out=$(ecurl --http1.1 "https://localhost:$edge_port/index.html")
expect "still serving after all that" "$out" hello

begin "access log and metrics"
bad=$(python3 -c '
import json, sys
need = {"ts","client","host","method","path","status","bytes","duration_ms","tls_group","pq","hrr"}
bad = 0
for l in open(sys.argv[1]):
    d = json.loads(l)
    bad += not need <= d.keys()
print(bad)' "$work/access.jsonl")
expect "every access log line is JSON with every field" "$bad" 0
for st in 200 400 404 408 413 431 502 504; do
  expect_match "a $st is logged" "$(cat "$work/access.jsonl")" "\"status\":$st,"
done
curl -s "http://127.0.0.1:$adm_port/metrics" >"$casedir/metrics.txt"
if promtool check metrics <"$casedir/metrics.txt" >"$casedir/promtool.out" 2>&1; then pass; else fail "promtool: $(cat "$casedir/promtool.out")"; fi
[ "$(metric '^pqify_tls_handshakes_total\{.*group="X25519MLKEM768"')" -ge 2 ] && pass || fail "no X25519MLKEM768 handshakes counted"
[ "$(metric '^pqify_tls_handshakes_total\{.*group="x25519"')" -ge 10 ] && pass || fail "no x25519 handshakes counted"
[ "$(metric '^pqify_edge_requests_total\{host="localhost",status="504",route="localhost/slow"\}')" -eq 2 ] && pass || fail "504s by route: $(grep 504 "$casedir/metrics.txt")"
[ "$(metric '^pqify_edge_origin_errors_total\{route="localhost/dead/",reason="failed"\}')" -eq 2 ] && pass || fail "origin errors"
[ "$(metric '^pqify_edge_requests_total\{host="-",status="404"')" -ge 2 ] && pass || fail "404 without a route"
[ "$(metric '^pqify_edge_request_duration_seconds_count\{route="localhost/"\}')" -ge 5 ] && pass || fail "latency histogram"

begin "SIGHUP: a new route under h2load, zero failed requests"
sed -i "s|^routes:|routes:\n  - {hostname: localhost, path: /new/, origin: \"unix:$sock\"}|" "$work/edge.yaml"
timeout 120 h2load -n 30000 -c 4 -m 8 "https://127.0.0.1:$edge_port/index.html" -H ':authority: localhost' >"$casedir/h2load.out" 2>&1 &
h2pid=$!
pids+=("$h2pid")
sleep 0.5
kill -HUP "$edge_pid"
wait_for "$edge_log" 'reloaded: 8 routes' 10 || fail "no reload line"
wait "$h2pid"
expect_match "h2load: all succeeded" "$(cat "$casedir/h2load.out")" 'requests: 30000 total, 30000 started, 30000 done, 30000 succeeded, 0 failed, 0 errored, 0 timeout'
out=$(ecurl --http2 "https://localhost:$edge_port/new/z")
expect "the new route answers" "$out" '{"path": "/new/z"}'
[ "$(metric '^pqify_edge_reloads_total')" -eq 1 ] && pass || fail "reload not counted"

begin "a bad reload keeps the old routes"
cp "$work/edge.yaml" "$work/edge.good"
sed -i 's|^routes:|routes:\n  - {hostname: localhost, origin: "ftp://x"}|' "$work/edge.yaml"
kill -HUP "$edge_pid"
wait_for "$edge_log" "routes\\[0\\]\\.origin: 'ftp://x'" 10 && pass || fail "the bad origin not named"
out=$(ecurl --http1.1 "https://localhost:$edge_port/new/z")
expect "still the previous routes" "$out" '{"path": "/new/z"}'

begin "SIGTERM drains and exits 0"
stop_edge TERM
expect "exit status" "$edge_rc" 0

begin "access log to a logfwd socket: JSON lines; while it is down, counted as dropped"
lsock="$work/logfwd.sock"
# a stand-in for pqify logfwd's --socket input: a Unix stream socket of JSON lines
timeout 120 python3 -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); f = c.makefile("rb")
out = open(sys.argv[2], "ab")
for line in f:
    out.write(line); out.flush()
' "$lsock" "$work/logfwd.got" >"$casedir/reader.out" 2>&1 &
reader=$!
pids+=("$reader")
wait_for "$casedir/reader.out" listening 10 || fail "the socket reader did not start"
printf 'listen: [127.0.0.1:0]\nadmin: {listen: 127.0.0.1:0}\ntls: {cert: %s, key: %s}\nroutes: [{origin: "http://127.0.0.1:%s"}]\naccess_log: {logfwd: "unix:%s"}\n' \
  "$certs/server-p256.pem" "$certs/server-p256.key" "$ngx_port" "$lsock" >"$work/logfwd.yaml"
start_edge --config "$work/logfwd.yaml" || finish
sleep 0.3   # the edge dials the socket as it starts
for i in 1 2 3; do ecurl --http1.1 -o /dev/null "https://localhost:$edge_port/index.html"; done
wait_for "$work/logfwd.got" '"path":"/index.html"' 10 || true
n=0
for i in $(seq 1 40); do n=$(grep -c '"path":"/index.html"' "$work/logfwd.got" 2>/dev/null); [ "$n" -ge 3 ] && break; sleep 0.05; done
expect "three JSON lines reached the socket" "$n" 3
valid=$(python3 -c 'import json,sys; print(all(json.loads(l)["status"] == 200 for l in open(sys.argv[1])))' "$work/logfwd.got")
expect "they are JSON with status 200" "$valid" True
kill "$reader"; wait "$reader" 2>/dev/null
rm -f "$lsock"
sleep 0.2
for i in 1 2 3 4; do
  code=$(ecurl --http1.1 -o /dev/null -w '%{http_code}' "https://localhost:$edge_port/index.html")
  expect "served while the log socket is down" "$code" 200
done
[ "$(metric '^pqify_edge_access_log_dropped_total')" -ge 3 ] && pass || fail "dropped lines not counted: $(metric '^pqify_edge_access_log_dropped_total')"
expect "logged lines counted" "$(metric '^pqify_edge_access_log_lines_total')" 3
stop_edge TERM

begin "the edge.yaml of docs/edge.md loads (--check-config)"
sed -n '/^```yaml$/,/^```$/p' "$src_root/docs/edge.md" | sed '1d;$d' |
  sed -e "s|0.0.0.0:443|127.0.0.1:0|" -e "s|127.0.0.1:9101|127.0.0.1:0|" \
      -e "s|/etc/pqify/edge.pem|$certs/server-p256.pem|" -e "s|/etc/pqify/edge.key|$certs/server-p256.key|" \
      -e "s|/etc/pqify/internal-ca.pem|$certs/ca.pem|" -e "s|/var/log/pqify/edge.jsonl|$work/doc.jsonl|" \
      -e "s|/etc/pqify/shop\.|$certs/server-rsa.|g" -e "s|/etc/pqify/bank.pem|$certs/server-p384.pem|" \
      -e "s|/etc/pqify/edge-client\.|$certs/client-p256.|" -e "s|/etc/pqify/edge-tunnel\.|$certs/server-p256.|" \
      -e "s|/etc/pqify/tunnel-ca.pem|$certs/ca.pem|" -e "s|0.0.0.0:7844|127.0.0.1:0|" \
      -e "s|ks1.internal:2407|127.0.0.1:1|" -e "s|ks2.internal:2407|127.0.0.1:2|" >"$work/doc.yaml"
out=$(timeout 10 "$PQIFY_BIN" edge --config "$work/doc.yaml" --check-config 2>&1)
expect_match "the documented file (certificates local and keyless, a tunnel route)" "$out" 'doc\.yaml is usable \(5 routes\)'

begin "config errors name the file, the line and the key"
printf 'listen: [127.0.0.1:0]\nroutes:\n  - {hostname: a, origin: http://x:1, paht: /}\n' >"$work/bad.yaml"
out=$(timeout 10 "$PQIFY_BIN" edge --config "$work/bad.yaml" --check-config 2>&1)
expect_match "unknown key" "$out" 'bad\.yaml:3: routes\[0\]\.paht: unknown key'
out=$(timeout 10 "$PQIFY_BIN" edge --listen 127.0.0.1:0 --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" --route 'x=gopher://a' --check-config 2>&1)
expect_match "a bad origin" "$out" "routes\[0\]\.origin: 'gopher://a': expected http://HOST:PORT"
finish
