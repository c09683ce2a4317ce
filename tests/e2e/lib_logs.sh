# Helpers of the log pipeline's end-to-end tests (sourced after tests/interop/lib.sh);
# stop_pid comes from lib_e2e.sh.
. "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"

# start_logrecv <args...>: pqify logrecv with args on stderr $casedir/logrecv.stderr
# (appended: a restart in the same case waits for its own `listening on` line, at most
# 10 s); sets r_pid, r_port, r_log, and r_adm with --admin.
start_logrecv() {
  r_log="$casedir/logrecv.stderr"
  local n i
  n=$(grep -c '^listening on ' "$r_log" 2>/dev/null)
  "$PQIFY_BIN" logrecv "$@" 2>>"$r_log" &
  r_pid=$!; pids+=("$r_pid")
  for ((i = 0; i < 200; i++)); do
    [ "$(grep -c '^listening on ' "$r_log")" -gt "${n:-0}" ] && break
    kill -0 "$r_pid" 2>/dev/null || break
    sleep 0.05
  done
  r_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$r_log" | tail -1)
  r_adm=$(sed -n 's/.*admin endpoint on [^ ]*:\([0-9]*\) .*/\1/p' "$r_log" | tail -1)
  [ "$(grep -c '^listening on ' "$r_log")" -gt "${n:-0}" ] || { fail "pqify logrecv did not start"; return 1; }
}
