#!/usr/bin/env bash
# pqify logrecv (issue 11) against Node's @fluent-org/logger over TLS with
# X25519MLKEM768: every event acked is in the file sink exactly once (checked by
# sequence number); pq required refuses a classical client; hostile senders
# (malformed msgpack, an oversized chunk, a slow sender) close only their own
# connection while a good client is served; the sink's disk full (a small tmpfs):
# no ack until space returns, then everything acked, nothing lost or doubled;
# SIGHUP reloads the certificate; SIGTERM drains and exits 0.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_logs.sh"
need_node
need_tool python3
need_tool curl
key=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key")
fluent="$peers_js/fluent_peer.mjs"
peers="${PQIFY_PEERS_DIR:-$src_root/.peers}"
export FLUENT_TLS_CA="$certs/ca.pem"

# start_recv <sinkdir> <args...>: sets r_pid, r_port, r_log, r_adm.
start_recv() {
  local sink=$1; shift
  start_logrecv --listen 127.0.0.1:0 --sink "file:$sink" --admin 127.0.0.1:0 "$@"
}
stop_recv() {  # bounded: SIGTERM, then the grace period (10 s), then kill -9
  kill "-$1" "$r_pid" 2>/dev/null
  local i
  for ((i = 0; i < 300; i++)); do kill -0 "$r_pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$r_pid" 2>/dev/null
  wait "$r_pid" 2>/dev/null
  r_rc=$?
}
# check_seqs <dir> <first> <count>: every seq in [first, first+count) exactly once.
check_seqs() {
  python3 - "$@" <<'PY'
import json, sys, glob, collections
d, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = collections.Counter()
for f in glob.glob(d + "/*.jsonl*"):
    for line in open(f):
        seen[json.loads(line)["record"]["seq"]] += 1
missing = [s for s in range(first, first + n) if seen[s] == 0]
dups = [s for s, k in seen.items() if k > 1]
print(f"missing={len(missing)} duplicates={len(dups)} first_missing={missing[:5]}")
PY
}
metric() { curl -s "127.0.0.1:$r_adm/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

begin "Node FluentClient over X25519MLKEM768: 500 events acked and in the sink once"
sink="$casedir/sink"; mkdir -p "$sink"
start_recv "$sink" "${key[@]}" && {
  out=$(timeout 60 "$node" "$fluent" "$peers" client "$r_port" Forward 500 2>"$casedir/node.stderr")
  expect "node's group" "$(sed -n 1p <<<"$out")" "tls X25519MLKEM768"
  expect "node's acks" "$(sed -n 2p <<<"$out")" "acked 500"
  expect_match "server side group" "$(cat "$r_log")" 'msg=accepted .*group=X25519MLKEM768 pq=yes'
  expect "sink" "$(check_seqs "$sink" 0 500)" "missing=0 duplicates=0 first_missing=[]"
  expect "events metric" "$(metric 'pqify_logrecv_events_total{stream="pqify.test"}')" 500
  expect "acked chunks metric" "$(metric pqify_logrecv_chunks_acked_total)" 50
  expect "ack latency observations" "$(metric pqify_logrecv_ack_latency_seconds_count)" 50
  expect "handshake by group" \
    "$(metric 'pqify_tls_handshakes_total{role="server",group="X25519MLKEM768",pq="true",hrr="false"}')" 1
  # PackedForward and CompressedPackedForward (gzip) from the same client
  out=$(FLUENT_SEQ_BASE=1000 timeout 60 "$node" "$fluent" "$peers" client "$r_port" CompressedPackedForward 100 2>>"$casedir/node.stderr")
  expect "compressed acks" "$(sed -n 2p <<<"$out")" "acked 100"
  expect "compressed events in the sink" "$(check_seqs "$sink" 1000 100)" "missing=0 duplicates=0 first_missing=[]"
  kill -HUP "$r_pid"
  if wait_for "$r_log" 'msg=reloaded ' 10; then pass; else fail "SIGHUP did not reload"; fi
  out=$(FLUENT_SEQ_BASE=2000 timeout 60 "$node" "$fluent" "$peers" client "$r_port" PackedForward 10 2>>"$casedir/node.stderr")
  expect "served after the reload" "$(sed -n 2p <<<"$out")" "acked 10"
  stop_recv TERM
  expect "logrecv exit after SIGTERM" "$r_rc" 0
}

begin "pq required (the default): a classical-only client is refused"
sink="$casedir/sink"; mkdir -p "$sink"
start_recv "$sink" "${key[@]}" && {
  FLUENT_TLS_GROUPS=X25519 timeout 30 "$node" "$fluent" "$peers" client "$r_port" Forward 1 \
    >"$casedir/node.out" 2>&1
  expect "node client fails" "$?" 1
  if wait_for "$r_log" 'msg="handshake failed"' 10; then pass; else fail "no handshake failure logged"; fi
  expect "nothing in the sink" "$(cat "$sink"/* 2>/dev/null | wc -l)" 0
  stop_recv TERM
}

begin "hostile senders close only their own connection"
sink="$casedir/sink"; mkdir -p "$sink"
start_recv "$sink" "${key[@]}" --max-chunk 4096 && {
  FLUENT_RAW_WAIT_MS=30000 timeout 60 "$node" "$fluent" "$peers" raw "$r_port" slow >"$casedir/slow.out" 2>&1 &
  slow=$!; pids+=("$slow")
  expect "malformed msgpack" "$(timeout 30 "$node" "$fluent" "$peers" raw "$r_port" garbage 2>&1)" "closed by server"
  if wait_for "$r_log" 'msg="closing connection" .*reason=' 5; then pass; else fail "no line for malformed input"; fi
  expect "oversized chunk" "$(timeout 30 "$node" "$fluent" "$peers" raw "$r_port" big:100000 2>&1)" "closed by server"
  expect_match "its line" "$(grep 'closing connection' "$r_log" | tail -1)" 'reason="?[^ ]*.*(large|limit)'
  out=$(timeout 60 "$node" "$fluent" "$peers" client "$r_port" Forward 50 2>"$casedir/node.stderr")
  expect "a good client served meanwhile" "$(sed -n 2p <<<"$out")" "acked 50"
  expect "its events" "$(check_seqs "$sink" 0 50)" "missing=0 duplicates=0 first_missing=[]"
  kill -0 "$slow" 2>/dev/null; expect "the slow sender is still waiting (not blocking anyone)" "$?" 0
  expect "rejected metric" "$(metric pqify_logrecv_rejected_total)" 2
  stop_recv TERM
  wait "$slow" 2>/dev/null
  expect "logrecv exit" "$r_rc" 0
}

begin "the sink's disk full: no ack, then space returns and everything is acked once"
if [ "$(id -u)" != 0 ]; then
  fail "this case mounts a small tmpfs and needs root"
else
  sink="$casedir/tmpfs"; mkdir -p "$sink"
  if mount -t tmpfs -o size=256k tmpfs "$sink"; then
    trap 'cleanup; umount "'"$sink"'" 2>/dev/null' EXIT
    start_recv "$sink" "${key[@]}" && {
      dd if=/dev/zero of="$sink/filler" bs=4k 2>/dev/null
      timeout 120 "$node" "$fluent" "$peers" client "$r_port" Forward 300 >"$casedir/node.out" 2>"$casedir/node.stderr" &
      cl=$!; pids+=("$cl")
      if wait_for "$r_log" 'msg="sink failed; not acked' 20; then pass; else fail "no sink failure logged"; fi
      expect "no ack while the disk is full" "$(metric pqify_logrecv_chunks_acked_total)" 0
      rm -f "$sink/filler"
      wait "$cl"; expect "node client" "$?" 0
      expect "all acked after space returned" "$(tail -1 "$casedir/node.out")" "acked 300"
      if wait_for "$r_log" 'msg="sink recovered"' 5; then pass; else fail "no recovery line"; fi
      expect "sink" "$(check_seqs "$sink" 0 300)" "missing=0 duplicates=0 first_missing=[]"
      stop_recv TERM
    }
    umount "$sink"
  else
    fail "cannot mount a tmpfs"
  fi
fi

begin "the logrecv.yaml of docs/logs.md is usable (--check-config); a bad key is named"
python3 - "$src_root/docs/logs.md" "$certs" >"$casedir/logrecv.yaml" <<'PY'
import sys
doc, c = open(sys.argv[1]).read(), sys.argv[2]
y = doc.split("A complete `logrecv.yaml`")[1].split("```yaml\n")[1].split("```")[0]
print(y.replace("/etc/pqify/logrecv.pem", c + "/server-p256.pem")
       .replace("/etc/pqify/logrecv.key", c + "/server-p256.key")
       .replace("/etc/pqify/agents-ca.pem", c + "/ca.pem"), end="")
PY
# its sink is Kafka: pqify-kafka reads it, pqify says where the Kafka sink is
: "${PQIFY_KAFKA_BIN:?PQIFY_KAFKA_BIN (pqify-kafka) must be set; CTest sets it}"
out=$("$PQIFY_KAFKA_BIN" logrecv --config "$casedir/logrecv.yaml" --check-config 2>&1)
expect "check-config exit" "$?" 0
expect_match "its words" "$out" 'logrecv.yaml is usable'
out=$("$PQIFY_BIN" logrecv --config "$casedir/logrecv.yaml" --check-config 2>&1)
expect "pqify without librdkafka" "$?" 1
expect_match "says where the Kafka sink is" "$out" 'served by `pqify-kafka logrecv`'
printf 'sink: file:/tmp\nmax_chunk_bytes: 10\n' >"$casedir/bad.yaml"
out=$("$PQIFY_BIN" logrecv --config "$casedir/bad.yaml" --check-config 2>&1)
expect "bad config exit" "$?" 2
expect_match "names the key" "$out" 'max_chunk_bytes'

finish
