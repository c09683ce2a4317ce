#!/usr/bin/env bash
# pqify logfwd -> pqify logrecv over X25519MLKEM768 (issue 11): every event carries
# a unique sequence number and the check reads the file sink, finds every number
# and reports duplicates (at-least-once allows them; a missing one is a failure):
#  - a plain run: stdin's EOF, everything acked, exit 0, the spool empty;
#  - kill -9 of logrecv mid-stream, then a restart on the same port;
#  - kill -9 of logfwd with batches spooled but unacked, then a restart that
#    resends them from the spool;
#  - failover: the first --to refuses connections, the second receives.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_logs.sh"
need_tool python3
key=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key")
start_recv() { start_logrecv --listen "$2" --sink "file:$1" "${key[@]}"; }  # <sink> <listen>
fwd_tls=(--ca "$certs/ca.pem" --servername localhost)

# check <sink> <first> <count>: prints missing=... (the check) and duplicates=... (a report)
check() {
  python3 - "$@" <<'PY'
import json, sys, glob, collections, re
d, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = collections.Counter()
for f in glob.glob(d + "/*.jsonl*"):
    for line in open(f):
        m = re.fullmatch(r"seq=(\d+)", json.loads(line)["record"]["message"])
        seen[int(m.group(1))] += 1
missing = [s for s in range(first, first + n) if seen[s] == 0]
dups = sum(k - 1 for k in seen.values() if k > 1)
print(f"missing={len(missing)} first_missing={missing[:5]}")
print(f"duplicates={dups}", file=sys.stderr)
PY
}
gen() { python3 -c 'import sys, time
a, b, d = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for i in range(a, b):
    print(f"seq={i}", flush=(d > 0))
    if d > 0 and i % 100 == 0: time.sleep(d)' "$@"; }

begin "logfwd -> logrecv: 50,000 lines, exit 0 after EOF, every one in the sink"
mkdir -p "$casedir/sink"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  gen 0 50000 0 | timeout 120 "$PQIFY_BIN" logfwd --to "127.0.0.1:$r_port" "${fwd_tls[@]}" \
    --spool "$casedir/spool" --tag app 2>"$casedir/logfwd.stderr"
  expect "logfwd exit" "$?" 0
  expect_match "group" "$(cat "$casedir/logfwd.stderr")" 'msg=connected .*group=X25519MLKEM768 pq=yes'
  expect "sink" "$(check "$casedir/sink" 0 50000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  expect "spool empty" "$(ls "$casedir/spool" | wc -l)" 0
  stop_pid "$r_pid"
}

begin "kill -9 of logrecv mid-stream, restarted on the same port: nothing lost"
mkdir -p "$casedir/sink"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  port=$r_port
  gen 0 6000 0.02 | "$PQIFY_BIN" logfwd --to "127.0.0.1:$port" "${fwd_tls[@]}" \
    --spool "$casedir/spool" --tag app --batch-ms 20 2>"$casedir/logfwd.stderr" &
  f_pid=$!; pids+=("$f_pid")
  sleep 0.5
  kill -9 "$r_pid"; wait "$r_pid" 2>/dev/null
  sleep 0.5
  start_recv "$casedir/sink" "127.0.0.1:$port"
  for ((i = 0; i < 1200; i++)); do kill -0 "$f_pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$f_pid" 2>/dev/null
  wait "$f_pid"; expect "logfwd exit (within 60 s)" "$?" 0
  expect_match "it saw the loss and reconnected" "$(cat "$casedir/logfwd.stderr")" 'connection lost'
  expect "sink" "$(check "$casedir/sink" 0 6000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  say "  ($(cat "$casedir/report"))"
  stop_pid "$r_pid"
}

begin "kill -9 of logfwd with batches spooled, unacked; the restart resends them"
mkdir -p "$casedir/sink"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  kill -STOP "$r_pid"   # no acks while the first logfwd runs
  mkfifo "$casedir/in"
  # no timeout(1) in front: kill -9 must reach logfwd itself (the trap kills it by pid)
  "$PQIFY_BIN" logfwd --to "127.0.0.1:$r_port" "${fwd_tls[@]}" --spool "$casedir/spool" \
    --tag app --batch-ms 20 --batch-events 100 <"$casedir/in" 2>"$casedir/logfwd1.stderr" &
  f_pid=$!; pids+=("$f_pid")
  exec 8>"$casedir/in"
  gen 0 1000 0 >&8
  for ((i = 0; i < 100; i++)); do [ "$(ls "$casedir/spool" | grep -c '\.batch$')" -ge 10 ] && break; sleep 0.05; done
  sleep 0.5   # the last partial batch flushes after --batch-ms
  nb=$(ls "$casedir/spool" | grep -c '\.batch$')
  expect "10 or more batches spooled before the kill" "$([ "$nb" -ge 10 ] && echo yes)" yes
  kill -9 "$f_pid"; wait "$f_pid" 2>/dev/null
  exec 8>&-
  kill -CONT "$r_pid"
  ls -la "$casedir/spool" >"$casedir/spool-before.ls"
  gen 1000 2000 0 | timeout 60 "$PQIFY_BIN" logfwd --to "127.0.0.1:$r_port" "${fwd_tls[@]}" \
    --spool "$casedir/spool" --tag app 2>"$casedir/logfwd2.stderr"
  expect "second logfwd exit" "$?" 0
  ls -la "$casedir/spool" >"$casedir/spool.ls"; expect_match "it resumed the spool" "$(cat "$casedir/logfwd2.stderr")" 'msg="resuming the spool" batches='"$nb"
  expect "sink" "$(check "$casedir/sink" 0 2000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  say "  ($(cat "$casedir/report"))"
  stop_pid "$r_pid"
}

begin "failover: the first --to refuses, the second receives"
mkdir -p "$casedir/sink"
start_recv "$casedir/sink" 127.0.0.1:0 && {
  dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  gen 0 1000 0 | timeout 60 "$PQIFY_BIN" logfwd --to "127.0.0.1:$dead" --to "127.0.0.1:$r_port" \
    "${fwd_tls[@]}" --spool "$casedir/spool" --tag app 2>"$casedir/logfwd.stderr"
  expect "logfwd exit" "$?" 0
  expect "sink" "$(check "$casedir/sink" 0 1000 2>>"$casedir/report")" "missing=0 first_missing=[]"
  stop_pid "$r_pid"
}

finish
