#!/usr/bin/env bash
# The edge's access log through the real log pipeline (issues 11 and 12):
#   curl -> pqify edge (access_log: {logfwd: unix:PATH}) -> pqify logfwd --socket PATH
#        -> pqify logrecv over X25519MLKEM768 -> the file sink.
# N requests of known paths, methods and protocols go through the edge; the check reads
# the file sink and finds exactly N access-log events, each request once, with the
# fields curl saw (method, path, status, protocol, bytes) and the TLS facts of the hop.
# Then the edge stops while logfwd stalls with lines queued (its writer's shutdown).
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
. "$(dirname "$0")/lib_edge.sh"
need_tool curl
need_tool python3

N1=40   # HTTP/1.1 GETs, on one keep-alive connection
N2=20   # HTTP/2 GETs, on one connection
N3=5    # 404s (no route for the host)
N=$((N1 + N2 + N3))
lsock="$work/logfwd.sock"

begin "logrecv (file sink), logfwd reading the socket, the edge writing to it"
mkdir -p "$work/sink"
r_log="$casedir/logrecv.stderr"
"$PQIFY_BIN" logrecv --listen 127.0.0.1:0 --sink "file:$work/sink" \
  --cert "$certs/server-p256.pem" --key "$certs/server-p256.key" 2>"$r_log" &
r_pid=$!; pids+=("$r_pid")
wait_for "$r_log" '^listening on ' 10 || { fail "logrecv did not start"; finish; }
r_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$r_log" | head -1)

f_log="$casedir/logfwd.stderr"
"$PQIFY_BIN" logfwd --to "127.0.0.1:$r_port" --ca "$certs/ca.pem" --servername localhost \
  --spool "$work/spool" --batch-ms 20 --socket "$lsock=edge.access" 2>"$f_log" </dev/null &
f_pid=$!; pids+=("$f_pid")
wait_for "$f_log" '^listening on unix:' 10 || { fail "logfwd did not open its socket"; finish; }

start_upload_origin || finish
cat >"$work/edge.yaml" <<YAML
listen: [127.0.0.1:0]
admin: {listen: 127.0.0.1:0}
tls: {cert: $certs/server-p256.pem, key: $certs/server-p256.key}
routes:
  - {hostname: localhost, origin: "http://127.0.0.1:$up_port"}
access_log: {logfwd: "unix:$lsock"}
YAML
start_edge --config "$work/edge.yaml" || finish
# the edge dials the socket as it starts: wait until logfwd accepted the connection
# (/proc/net/unix then lists the path twice: the listener and the accepted socket)
for ((i = 0; i < 100; i++)); do
  [ "$(grep -cF "$lsock" /proc/net/unix)" -ge 2 ] && break
  sleep 0.05
done
expect "the edge is connected to logfwd's socket" "$(grep -cF "$lsock" /proc/net/unix)" 2
wait_for "$f_log" 'msg=connected .*group=X25519MLKEM768 pq=yes' 10 || fail "logfwd did not reach logrecv over X25519MLKEM768"

begin "$N requests through the edge"
urls=()
for ((i = 0; i < N1; i++)); do urls+=(-o /dev/null "https://localhost:$edge_port/sized?n=$((100 + i))&seq=h1-$i"); done
codes1=$(ecurl --http1.1 -w '%{http_code} %{http_version}\n' "${urls[@]}")
urls=()
for ((i = 0; i < N2; i++)); do urls+=(-o /dev/null "https://localhost:$edge_port/sized?n=$((200 + i))&seq=h2-$i"); done
codes2=$(ecurl --http2 -w '%{http_code} %{http_version}\n' "${urls[@]}")
codes3=""
for ((i = 0; i < N3; i++)); do
  codes3+=$(curl -sS --max-time 20 --cacert "$certs/ca.pem" --resolve "localhost:$edge_port:127.0.0.1" \
    -H "Host: nowhere.test" -o /dev/null -w '%{http_code}' "https://localhost:$edge_port/missing?seq=nf-$i")$'\n'
done
expect "HTTP/1.1 answers (curl's view)" "$(sort <<<"$codes1" | uniq -c | sed 's/^ *//')" "$N1 200 1.1"
expect "HTTP/2 answers (curl's view)" "$(sort <<<"$codes2" | uniq -c | sed 's/^ *//')" "$N2 200 2"
expect "no-route answers (curl's view)" "$(sort <<<"${codes3%$'\n'}" | uniq -c | sed 's/^ *//')" "$N3 404"

begin "exactly $N access-log events in the file sink"
count_sink() {
  python3 -c 'import glob, sys
print(sum(1 for f in glob.glob(sys.argv[1] + "/*.jsonl*") for _ in open(f)))' "$work/sink"
}
n=0
for ((i = 0; i < 200; i++)); do
  n=$(count_sink)
  [ "$n" -ge "$N" ] && break
  sleep 0.05
done
sleep 0.5   # anything extra (a duplicate) would land by now: batches go every 20 ms
expect "events in the sink" "$(count_sink)" "$N"
out=$(python3 - "$work/sink" "$N1" "$N2" "$N3" <<'PY'
import collections, glob, json, re, sys
d, n1, n2, n3 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
want = {}
for i in range(n1):
    want[f"h1-{i}"] = ("GET", f"/sized?n={100 + i}&seq=h1-{i}", 200, "http/1.1", 100 + i)
for i in range(n2):
    want[f"h2-{i}"] = ("GET", f"/sized?n={200 + i}&seq=h2-{i}", 200, "h2", 200 + i)
for i in range(n3):
    want[f"nf-{i}"] = ("GET", f"/missing?seq=nf-{i}", 404, None, None)
seen = collections.Counter()
problems = []
files = glob.glob(d + "/*.jsonl*")
for f in files:
    for line in open(f):
        ev = json.loads(line)
        r = ev["record"]
        if ev["tag"] != "edge.access":
            problems.append("tag " + ev["tag"])
        m = re.search(r"seq=([a-z0-9-]+)", r.get("path", ""))
        if m is None or m.group(1) not in want:
            problems.append("unknown event " + json.dumps(r))
            continue
        key = m.group(1)
        seen[key] += 1
        method, path, status, proto, size = want[key]
        got = (r["method"], r["path"], r["status"])
        if got != (method, path, status):
            problems.append(f"{key}: {got}")
        if proto is not None and r["proto"] != proto:
            problems.append(f"{key}: proto {r['proto']}")
        if size is not None and r["bytes"] < size:
            problems.append(f"{key}: bytes {r['bytes']} < {size}")
        for k in ("ts", "client", "host", "duration_ms", "tls_group", "pq", "hrr", "sni"):
            if k not in r:
                problems.append(f"{key}: no {k}")
        if r["tls_group"] != "x25519" or r["pq"] is not False or not r["client"].startswith("127.0.0.1"):
            problems.append(f"{key}: tls {r['tls_group']} pq {r['pq']} client {r['client']}")
        if not isinstance(ev["time"], (int, float)):
            problems.append(f"{key}: time {ev['time']}")
missing = sorted(set(want) - set(seen))
dups = sorted(k for k, v in seen.items() if v > 1)
print(f"files={[f.rsplit('/', 1)[1] for f in files]}")
print(f"missing={missing[:5]} duplicates={dups[:5]} problems={problems[:3]}")
PY
)
expect "one file for the stream" "$(head -1 <<<"$out")" "files=['edge.access.jsonl']"
expect "every request once, with curl's facts" "$(tail -1 <<<"$out")" "missing=[] duplicates=[] problems=[]"

begin "the counters agree"
expect "edge: lines written to the socket" "$(metric '^pqify_edge_access_log_lines_total')" "$N"
expect "edge: lines dropped" "$(metric '^pqify_edge_access_log_dropped_total')" 0

begin "SIGTERM while logfwd stalls, access-log lines queued in the edge: exit 0"
# logfwd stopped (SIGSTOP) reads nothing: the socket's buffer fills and the edge's
# lines wait in its write queue; closing the log with writes queued must free nothing
# they still point at (the sanitizer build checks it).
kill -STOP "$f_pid"
# lines of about 4 KiB (a long query): 120 of them pass the socket's buffer
M=120
pad=$(head -c 4000 /dev/zero | tr '\0' p)
urls=()
for ((i = 0; i < M; i++)); do urls+=(-o /dev/null "https://localhost:$edge_port/sized?n=1&seq=stall-$i&pad=$pad"); done
codes=$(ecurl --http1.1 -w '%{http_code}\n' "${urls[@]}")
expect "served while logfwd stalls" "$(grep -c '^200$' <<<"$codes")" "$M"
written=$(metric '^pqify_edge_access_log_lines_total')
[ "$written" -lt $((N + M)) ] && pass || fail "no line waits in the edge's queue ($written written): the case is not made"
stop_edge TERM
expect "edge exit" "$edge_rc" 0
kill -CONT "$f_pid"

# (logfwd and logrecv run without timeout(1), which would answer SIGTERM itself with
# 143; the cleanup kills them by pid like every process)
begin "SIGTERM: logfwd, then logrecv exit 0"
stop_pid "$f_pid"
expect "logfwd exit" "$stop_rc" 0
stop_pid "$r_pid"
expect "logrecv exit" "$stop_rc" 0
finish
