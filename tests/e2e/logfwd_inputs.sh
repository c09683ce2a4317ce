#!/usr/bin/env bash
# pqify logfwd's inputs and faults, counted (issue 11). Every event carries a unique
# sequence number; check() reads logrecv's file sink, finds every number, and reports
# the missing ones (a failure) and the duplicates (at-least-once allows them):
#  - a file rotated by rename while it is written and read, then one truncated;
#  - kill -9 of logfwd while it follows a file, and a restart that resumes from the
#    checkpointed offset (not from 0);
#  - the network between logfwd and logrecv cut (a proxy that blackholes both ways)
#    and restored (the proxy resets every connection);
#  - the Unix socket of JSON lines: objects become the records; the metrics (the
#    batch send duration per stream, the handshake's group) on the admin endpoint;
#  - a spool too small: the inputs pause, nothing is dropped;
#  - SIGHUP adds an input from the edited logfwd.yaml; --check-config names FILE:LINE: KEY.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_logs.sh"
need_tool python3
need_tool curl
proxy="$(dirname "$0")/cutproxy.py"
key=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key")
start_recv() { start_logrecv --listen "$2" --sink "file:$1" "${key[@]}"; }  # <sink> <listen>

# write_cfg <file> <port> <spool> [extra yaml...]: a logfwd.yaml
write_cfg() {
  local f=$1 port=$2 spool=$3; shift 3
  {
    echo "to: [\"127.0.0.1:$port\"]"
    echo "tls: {ca: \"$certs/ca.pem\", server_name: localhost, handshake_timeout: 2s}"
    echo "spool: {dir: \"$spool\"}"
    echo "batch: {max_delay: 50ms}"
    echo "poll: 50ms"
    printf '%s\n' "$@"
  } >"$f"
}
start_fwd() {  # start_fwd <args...>: sets f_pid (logfwd itself, no wrapper)
  "$PQIFY_BIN" logfwd "$@" 2>>"$casedir/logfwd.stderr" </dev/null &
  f_pid=$!; pids+=("$f_pid")
}
# count <sink>: distinct sequence numbers in the sink now
count() {
  python3 - "$1" <<'PY'
import json, sys, glob, re
seen = set()
for f in glob.glob(sys.argv[1] + "/*.jsonl*"):
    for line in open(f):
        r = json.loads(line)["record"]
        if "seq" in r: seen.add(int(r["seq"]))
        else:
            m = re.fullmatch(r"seq=(\d+)", r.get("message", ""))
            if m: seen.add(int(m.group(1)))
print(len(seen))
PY
}
# wait_count <sink> <n> <seconds>
wait_count() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    [ "$(count "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
# check <sink> <first> <count>: prints missing=... (the check); duplicates=... to stderr
check() {
  python3 - "$@" <<'PY'
import json, sys, glob, collections, re
d, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = collections.Counter()
for f in glob.glob(d + "/*.jsonl*"):
    for line in open(f):
        r = json.loads(line)["record"]
        if "seq" in r: seen[int(r["seq"])] += 1
        else:
            m = re.fullmatch(r"seq=(\d+)", r["message"])
            seen[int(m.group(1))] += 1
missing = [s for s in range(first, first + n) if seen[s] == 0]
dups = sum(k - 1 for k in seen.values() if k > 1)
print(f"missing={len(missing)} first_missing={missing[:5]}")
print(f"duplicates={dups}", file=sys.stderr)
PY
}
# writer <file> <from> <to> <lines per 10 ms> [rotate_at]: appends seq=N lines; at
# rotate_at renames the file to FILE.1 and goes on in a new FILE (logrotate's create)
writer() {
  python3 - "$@" <<'PY'
import os, sys, time
path, a, b, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rot = int(sys.argv[5]) if len(sys.argv) > 5 else -1
f = open(path, "a")
for i in range(a, b):
    if i == rot:
        f.close(); os.rename(path, path + ".1"); f = open(path, "a")
    f.write(f"seq={i}\n")
    if i % rate == 0:
        f.flush(); time.sleep(0.01)
f.close()
PY
}

begin "a file rotated by rename while written and read: every line in the sink"
mkdir -p "$casedir/sink" "$casedir/logs"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  write_cfg "$casedir/logfwd.yaml" "$r_port" "$casedir/spool" \
    "inputs: [{type: file, path: \"$casedir/logs/app.log\", tag: app}]"
  : >"$casedir/logs/app.log"
  start_fwd --config "$casedir/logfwd.yaml"
  wait_for "$casedir/logfwd.stderr" 'msg="following a file"' 10
  writer "$casedir/logs/app.log" 0 20000 40 10000
  wait_count "$casedir/sink" 20000 30
  expect "sink" "$(check "$casedir/sink" 0 20000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect_match "it saw the rotation" "$(cat "$casedir/logfwd.stderr")" 'msg="file rotated'
  say "  rename: $(cat "$casedir/report")"

  begin "the same file truncated (copytruncate) after it was read: read again from 0"
  mv "$work/001/sink" "$casedir/sink"; r_dir="$casedir/sink"
  writer "$work/001/logs/app.log" 20000 21000 50
  wait_count "$r_dir" 21000 30
  : >"$work/001/logs/app.log"
  sleep 0.3
  writer "$work/001/logs/app.log" 21000 22000 50
  wait_count "$r_dir" 22000 30
  expect "sink" "$(check "$r_dir" 20000 2000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect_match "it saw the truncation" "$(cat "$work/001/logfwd.stderr")" 'msg="file truncated'
  say "  truncate: $(cat "$casedir/report")"
  stop_pid "$f_pid"
  stop_pid "$r_pid"
}

begin "kill -9 of logfwd following a file; the restart resumes from the checkpoint"
mkdir -p "$casedir/sink" "$casedir/logs"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  write_cfg "$casedir/logfwd.yaml" "$r_port" "$casedir/spool" \
    "inputs: [{type: file, path: \"$casedir/logs/*.log\", tag: app}]"
  : >"$casedir/logs/a.log"
  start_fwd --config "$casedir/logfwd.yaml"
  writer "$casedir/logs/a.log" 0 5000 50 &
  w_pid=$!; pids+=("$w_pid")
  wait_count "$casedir/sink" 1500 20
  kill -9 "$f_pid"; wait "$f_pid" 2>/dev/null
  expect "offsets checkpointed" "$(head -1 "$casedir/spool/offsets")" "pqify-logfwd-offsets 1"
  saved=$(awk 'NR == 2 {print $3}' "$casedir/spool/offsets")
  wait "$w_pid"
  start_fwd --config "$casedir/logfwd.yaml"
  wait_count "$casedir/sink" 5000 30
  expect_match "resumed at the saved offset, not 0" \
    "$(grep 'following a file' "$casedir/logfwd.stderr" | tail -1)" "offset=$saved\$"
  expect "saved offset > 0" "$([ "${saved:-0}" -gt 0 ] && echo yes)" yes
  expect "sink" "$(check "$casedir/sink" 0 5000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  say "  kill -9 at offset $saved: $(cat "$casedir/report")"
  stop_pid "$f_pid"
  stop_pid "$r_pid"
}

begin "the network cut (blackholed both ways) and restored: nothing lost"
mkdir -p "$casedir/sink" "$casedir/logs"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  python3 "$proxy" "$r_port" >"$casedir/proxy.out" 2>&1 &
  p_pid=$!; pids+=("$p_pid")
  wait_for "$casedir/proxy.out" '^listening on ' 10
  p_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$casedir/proxy.out")
  write_cfg "$casedir/logfwd.yaml" "$p_port" "$casedir/spool" \
    "inputs: [{type: file, path: \"$casedir/logs/app.log\", tag: app}]" "ack_timeout: 1s"
  : >"$casedir/logs/app.log"
  start_fwd --config "$casedir/logfwd.yaml"
  writer "$casedir/logs/app.log" 0 1000 50
  wait_count "$casedir/sink" 1000 30
  kill -USR1 "$p_pid"; sleep 0.2   # cut, then the rest is written
  writer "$casedir/logs/app.log" 1000 6000 50
  sleep 3
  during=$(count "$casedir/sink")
  kill -USR2 "$p_pid"
  wait_count "$casedir/sink" 6000 60
  expect "sink" "$(check "$casedir/sink" 0 6000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect_match "it noticed the silence" "$(cat "$casedir/logfwd.stderr")" 'msg="no ack in time; reconnecting"'
  expect "nothing arrived while cut" "$during" 1000
  say "  cut at 1000, 5000 written during the cut: $(cat "$casedir/report")"
  stop_pid "$f_pid"
  stop_pid "$p_pid"
  stop_pid "$r_pid"
}

begin "the Unix socket of JSON lines; metrics on the admin endpoint"
mkdir -p "$casedir/sink"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  write_cfg "$casedir/logfwd.yaml" "$r_port" "$casedir/spool" \
    "inputs: [{type: socket, path: \"$casedir/fwd.sock\", tag: edge.access}]" \
    "admin: {listen: 127.0.0.1:0}"
  start_fwd --config "$casedir/logfwd.yaml"
  wait_for "$casedir/logfwd.stderr" '^listening on unix:' 10
  adm=$(sed -n 's/^pqify logfwd: admin endpoint on .*:\([0-9]*\) .*/\1/p' "$casedir/logfwd.stderr")
  python3 - "$casedir/fwd.sock" <<'PY'
import json, socket, sys
for part in range(2):  # two connections, one after the other
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(b"".join(json.dumps({"seq": i, "path": "/a\u00e9\"b", "status": 200,
                                   "nested": {"ms": 1.5, "ok": True, "none": None}}).encode() + b"\n"
                       for i in range(part * 1000, part * 1000 + 1000)))
    s.close()
PY
  wait_count "$casedir/sink" 2000 20
  expect "sink" "$(check "$casedir/sink" 0 2000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect "a record as written" "$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["record"]["seq"] == 7: print(r["tag"], json.dumps(r["record"], sort_keys=True)); break' "$casedir/sink/edge.access.jsonl")" \
    'edge.access {"nested": {"ms": 1.5, "none": null, "ok": true}, "path": "/a\u00e9\"b", "seq": 7, "status": 200}'
  sleep 0.3
  m=$(curl -s "http://127.0.0.1:$adm/metrics")
  printf '%s\n' "$m" >"$casedir/metrics"
  expect_match "events acked" "$m" '^pqify_logfwd_events_acked_total\{stream="edge.access"\} 2000$'
  expect_match "send duration histogram" "$m" '^pqify_logfwd_batch_send_duration_seconds_count\{stream="edge.access"\} [1-9]'
  expect_match "handshake group" "$m" 'pqify_tls_handshakes_total\{.*group="X25519MLKEM768".*\} 1'
  expect_match "connection group" "$m" "pqify_logfwd_connection\{to=\"127.0.0.1:$r_port\",group=\"X25519MLKEM768\"\} 1"
  stop_pid "$f_pid"
  expect "the socket is removed on exit" "$([ -e "$casedir/fwd.sock" ] && echo there || echo gone)" gone
  stop_pid "$r_pid"
}

begin "a full spool pauses the inputs and drops nothing"
mkdir -p "$casedir/sink" "$casedir/logs"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  kill -STOP "$r_pid"   # no acks: the spool fills
  write_cfg "$casedir/logfwd.yaml" "$r_port" "$casedir/spool" \
    "inputs: [{type: file, path: \"$casedir/logs/app.log\", tag: app}]" \
    "spool: {dir: \"$casedir/spool\", max_bytes: 1048576}" "compression: none" "admin: {listen: 127.0.0.1:0}"
  sed -i '3d' "$casedir/logfwd.yaml"   # the second spool: line replaces the first
  python3 -c 'import sys
with open(sys.argv[1], "w") as f:
    for i in range(60000): f.write(f"seq={i}\n")' "$casedir/logs/app.log"
  start_fwd --config "$casedir/logfwd.yaml"
  wait_for "$casedir/logfwd.stderr" 'msg="spool full' 20
  adm=$(sed -n 's/^pqify logfwd: admin endpoint on .*:\([0-9]*\) .*/\1/p' "$casedir/logfwd.stderr")
  m=$(curl -s "http://127.0.0.1:$adm/metrics")
  expect_match "paused" "$m" '^pqify_logfwd_inputs_paused 1$'
  kill -CONT "$r_pid"
  wait_count "$casedir/sink" 60000 40
  expect "sink" "$(check "$casedir/sink" 0 60000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  say "  $(cat "$casedir/report")"
  stop_pid "$f_pid"
  stop_pid "$r_pid"
}

begin "SIGHUP adds an input from the edited file; --check-config names FILE:LINE: KEY"
mkdir -p "$casedir/sink" "$casedir/logs"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  write_cfg "$casedir/logfwd.yaml" "$r_port" "$casedir/spool" \
    "inputs: [{type: file, path: \"$casedir/logs/a.log\", tag: a}]"
  printf 'seq=0\n' >"$casedir/logs/a.log"
  printf 'seq=1\n' >"$casedir/logs/b.log"
  start_fwd --config "$casedir/logfwd.yaml"
  wait_count "$casedir/sink" 1 10
  write_cfg "$casedir/logfwd.yaml" "$r_port" "$casedir/spool" \
    "inputs: [{type: file, path: \"$casedir/logs/a.log\", tag: a}, {type: file, path: \"$casedir/logs/b.log\", tag: b}]"
  kill -HUP "$f_pid"
  wait_count "$casedir/sink" 2 10
  expect "sink" "$(check "$casedir/sink" 0 2 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect "b's stream" "$(cat "$casedir/sink/b.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["record"]["message"])')" "seq=1"
  stop_pid "$f_pid"
  printf 'to: ["127.0.0.1:1"]\ntls: {ca: "%s"}\ninputs:\n  - {type: file, tag: x, pth: /tmp}\n' "$certs/ca.pem" >"$casedir/bad.yaml"
  out=$("$PQIFY_BIN" logfwd --config "$casedir/bad.yaml" --check-config 2>&1); rc=$?
  expect "bad config exit" "$rc" 2
  expect_match "its words" "$out" "bad.yaml:4: inputs\[0\]\.pth: unknown key"
  printf 'to: ["127.0.0.1:1"]\ntls: {ca: "%s"}\ninputs:\n  - {type: file, tag: x, path: "/tmp/*.log"}\n' "$certs/ca.pem" >"$casedir/good.yaml"
  out=$("$PQIFY_BIN" logfwd --config "$casedir/good.yaml" --check-config 2>&1); rc=$?
  expect "good config exit" "$rc" 0
  python3 - "$src_root/docs/logs.md" "$certs" "$casedir" >"$casedir/doc.yaml" <<'PY'
import sys
doc, c, d = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
y = doc.split("A complete `logfwd.yaml`")[1].split("```yaml\n")[1].split("```")[0]
print(y.replace("/etc/pqify/logs-ca.pem", c + "/ca.pem").replace("/etc/pqify/agent.pem", c + "/client-p256.pem")
       .replace("/etc/pqify/agent.key", c + "/client-p256.key").replace("/var/spool/", d + "/"), end="")
PY
  out=$("$PQIFY_BIN" logfwd --config "$casedir/doc.yaml" --check-config 2>&1); rc=$?
  expect "the logfwd.yaml of docs/logs.md is usable" "$rc" 0
  expect_match "its words" "$out" 'doc.yaml is usable \(2 receivers, 3 inputs\)'
  stop_pid "$r_pid"
}

finish
