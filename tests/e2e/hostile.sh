#!/usr/bin/env bash
# pqify serve against hostile clients (issue 9): a slowloris peer is dropped at the
# handshake timeout and blocks nobody; a ClientHello in one-byte TCP writes is
# served; the connection cap holds newcomers in the queue; running out of file
# descriptors pauses accepting but never stops the server; 1,000 raw connects
# leave nothing serving after SIGTERM.
. "$(dirname "$0")/../interop/lib.sh"
. "$(dirname "$0")/lib_e2e.sh"
need_tool python3
key=(--cert "$certs/server-p256.pem" --key "$certs/server-p256.key")

begin "slowloris: one byte, then silence; dropped at the handshake timeout, blocking nobody"
start_serve "${key[@]}" --timeout 2 --workers 1 && {
  exec 9<>"/dev/tcp/127.0.0.1/$srv_port"
  printf '\026' >&9
  good_client
  expect "a client served while the slow one waits" "$cli_rc" 0
  expect "its echo" "$cli_out" "ping"
  if wait_for "$srv_log" 'handshake with .* failed: the handshake timed out$' 10; then pass; else
    fail "the slow client was not dropped"; fi
  read -r -t 5 -u 9 _
  expect "the slow client sees the connection closed (EOF, not a read timeout)" "$?" 1
  exec 9<&-
  stop_serve TERM
  expect "serve exit" "$srv_rc" 0
}

begin "a ClientHello in one-byte TCP writes (Python ssl, its own stack)"
start_serve "${key[@]}" && {
  out=$(timeout 60 python3 "$raw" onebyte "$srv_port" "$certs/ca.pem" 2>&1)
  expect_match "handshake and echo" "$out" '^onebyte ok segments=[0-9]{3,} version=TLSv1.3 '
  stop_serve TERM
  expect "serve exit" "$srv_rc" 0
}

begin "--max-connections: the cap holds a newcomer back until a place frees"
start_serve "${key[@]}" --max-connections 3 --workers 1 --timeout 60 && {
  fifo="$casedir/go"
  mkfifo "$fifo"
  timeout 60 python3 "$raw" hold "$srv_port" 3 <"$fifo" >"$casedir/hold.out" 2>&1 &
  hold_pid=$!
  pids+=("$hold_pid")
  exec 8>"$fifo"
  wait_for "$casedir/hold.out" '^held 3' 10 || fail "raw connections not opened"
  good_client --timeout 2
  expect "no handshake for a fourth while three hold every place" "$cli_rc" 1
  exec 8>&-
  kill "$hold_pid" 2>/dev/null
  wait "$hold_pid" 2>/dev/null
  good_client
  expect "served once the places free" "$cli_rc" 0
  stop_serve TERM
  expect "serve exit" "$srv_rc" 0
}

begin "out of file descriptors: accepting pauses, the server carries on"
# 64 descriptors: the loop's own, then a few dozen connections, then EMFILE.
SERVE_WRAP="prlimit --nofile=64:64 --" start_serve "${key[@]}" --workers 1 --timeout 60
if [ "$srv_port" != 0 ]; then
  fifo="$casedir/go"
  mkfifo "$fifo"
  timeout 60 python3 "$raw" hold "$srv_port" 100 <"$fifo" >"$casedir/hold.out" 2>&1 &
  hold_pid=$!
  pids+=("$hold_pid")
  exec 8>"$fifo"
  wait_for "$casedir/hold.out" '^held 100' 10 || fail "raw connections not opened"
  sleep 1   # the server accepts what it can and meets EMFILE
  if kill -0 "$pq_pid" 2>/dev/null; then pass; else fail "pqify serve stopped on EMFILE"; fi
  exec 8>&-
  kill "$hold_pid" 2>/dev/null
  wait "$hold_pid" 2>/dev/null
  good_client
  expect "served after the descriptors came back" "$cli_rc" 0
  expect "its echo" "$cli_out" "ping"
  stop_serve TERM
  expect "serve exit" "$srv_rc" 0
fi

begin "1,000 raw connects, then SIGTERM: exit 0 and every connection closed"
ulimit -n 4096 2>/dev/null
start_serve "${key[@]}" && {
  fifo="$casedir/go"
  mkfifo "$fifo"
  timeout 90 python3 "$raw" hold "$srv_port" 1000 <"$fifo" >"$casedir/hold.out" 2>&1 &
  hold_pid=$!
  pids+=("$hold_pid")
  exec 8>"$fifo"
  wait_for "$casedir/hold.out" '^(held|FAIL)' 30
  expect "opened" "$(head -1 "$casedir/hold.out")" "held 1000"
  stop_serve TERM
  expect "serve exit after SIGTERM" "$srv_rc" 0
  echo go >&8
  exec 8>&-
  wait "$hold_pid" 2>/dev/null
  expect "every raw connection closed by the server" "$(tail -1 "$casedir/hold.out")" "closed 1000"
  if kill -0 "$pq_pid" 2>/dev/null; then fail "pqify serve still running"; else pass; fi
  good_client --timeout 2
  expect "nothing serves on the port any more" "$cli_rc" 1
}

finish
