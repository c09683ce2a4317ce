#!/usr/bin/env bash
# pqify logrecv's Kafka sink (issue 11) against librdkafka's mock cluster, read back
# with kcat: Node's FluentClient over X25519MLKEM768 gets its acks, and every
# sequence number is in the topic exactly once - also with every broker down for 5 s
# in the middle of the stream, and with Produce requests failing (injected errors).
# The settings come from a logrecv.yaml (tls:, sink, topic, kafka: pass-through).
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_logs.sh"
need_node
need_tool python3
need_tool kcat
: "${PQIFY_KAFKA_MOCK:?PQIFY_KAFKA_MOCK (tests/logs/logs_kafka_mock) must be set; CTest sets it}"
fluent="$peers_js/fluent_peer.mjs"
peers="${PQIFY_PEERS_DIR:-$src_root/.peers}"
export FLUENT_TLS_CA="$certs/ca.pem" FLUENT_ACK_TIMEOUT_MS=60000

# the mock cluster: commands through a fifo held open on fd 7
mock_cmd() { echo "$*" >&7; }
start_mock() {
  mkfifo "$casedir/mock.in"
  timeout 280 "$PQIFY_KAFKA_MOCK" "$1" <"$casedir/mock.in" >"$casedir/mock.out" 2>"$casedir/mock.stderr" &
  m_pid=$!; pids+=("$m_pid")
  exec 7>"$casedir/mock.in"
  wait_for "$casedir/mock.out" '^bootstraps ' 10 || { fail "the mock cluster did not start"; return 1; }
  boot=$(sed -n 's/^bootstraps //p' "$casedir/mock.out")
}
start_recv() { start_logrecv --config "$1" --admin 127.0.0.1:0; }
stop_recv() {
  stop_pid "$r_pid"
  r_rc=$stop_rc
}
# topic_seqs <topic> <first> <count>: read the whole topic with kcat and count.
topic_seqs() {
  timeout 60 kcat -b "$boot" -C -t "$1" -e -q -f '%s\n' >"$casedir/topic.jsonl" 2>"$casedir/kcat.stderr"
  python3 - "$casedir/topic.jsonl" "$2" "$3" <<'PY'
import json, sys, collections
f, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = collections.Counter(json.loads(l)["record"]["seq"] for l in open(f) if l.strip())
missing = [s for s in range(first, first + n) if seen[s] == 0]
dups = [s for s, k in seen.items() if k > 1]
print(f"missing={len(missing)} duplicates={len(dups)} first_missing={missing[:5]}")
PY
}
metric() { curl -s "127.0.0.1:$r_adm/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

begin "Node -> logrecv -> Kafka (mock): acked, in the topic once; a 5 s outage; produce errors"
start_mock 3 && {
  mock_cmd "topic logs.pqify.test 3"
  wait_for "$casedir/mock.out" '^ok' 10 || fail "topic not created"
  cat >"$casedir/logrecv.yaml" <<YAML
listen: 127.0.0.1:0
sink: kafka:$boot
topic: logs.{tag}
tls:
  cert: $certs/server-p256.pem
  key: $certs/server-p256.key
kafka:
  - reconnect.backoff.max.ms=500
  - message.timeout.ms=120000
YAML
  start_recv "$casedir/logrecv.yaml" && {
    out=$(timeout 60 "$node" "$fluent" "$peers" client "$r_port" Forward 500 2>"$casedir/node.stderr")
    expect "node's group" "$(sed -n 1p <<<"$out")" "tls X25519MLKEM768"
    expect "node's acks" "$(sed -n 2p <<<"$out")" "acked 500"
    expect "topic" "$(topic_seqs logs.pqify.test 0 500)" "missing=0 duplicates=0 first_missing=[]"
    expect "acked metric" "$(metric pqify_logrecv_chunks_acked_total)" 50

    # every broker down for 5 s while a client streams
    FLUENT_SEQ_BASE=10000 timeout 120 "$node" "$fluent" "$peers" client "$r_port" Forward 3000 \
      >"$casedir/node2.out" 2>"$casedir/node2.stderr" &
    cl=$!; pids+=("$cl")
    wait_for "$casedir/node2.out" '^tls ' 20 || fail "the streaming client did not connect"
    sleep 0.3
    kill -0 "$cl" 2>/dev/null; expect "the client is still streaming when the brokers go down" "$?" 0
    mock_cmd "down -1"; sleep 5; mock_cmd "up -1"
    wait "$cl"; expect "client through the outage" "$?" 0
    expect "its acks" "$(tail -1 "$casedir/node2.out")" "acked 3000"
    expect_match "the outage was seen by the producer" "$(cat "$r_log")" "msg=kafka error="
    expect "topic after the outage" "$(topic_seqs logs.pqify.test 10000 3000)" \
      "missing=0 duplicates=0 first_missing=[]"

    # Produce requests fail: NOT_ENOUGH_REPLICAS (19) and REQUEST_TIMED_OUT (7)
    mock_cmd "errors 5 19"; mock_cmd "errors 3 7"
    out=$(FLUENT_SEQ_BASE=20000 timeout 120 "$node" "$fluent" "$peers" client "$r_port" Forward 1000 2>"$casedir/node3.stderr")
    expect "acks with produce errors" "$(tail -1 <<<"$out")" "acked 1000"
    expect "topic after produce errors" "$(topic_seqs logs.pqify.test 20000 1000)" \
      "missing=0 duplicates=0 first_missing=[]"
    stop_recv
    expect "logrecv exit" "$r_rc" 0
  }
  exec 7>&-
}

finish
