#!/usr/bin/env bash
# The production binary never links libssl and never defines malloc (DESIGN.md
# "Layers"); pqify-bench, built beside it, does both, and the same checks must see
# that there, or they would be checking nothing. Without pqify-bench beside it,
# `pqify bench` says so in words. Usage: production_binary.sh PQIFY PQIFY_BENCH SANITIZED
set -u
pqify=$1 bench=$2 sanitized=$3
failures=0
ok() { echo "ok: $1"; }
bad() { echo "FAILED: $1"; failures=$((failures + 1)); }

links_libssl() { ldd "$1" | grep -Eq '^[[:space:]]*libssl\.so'; }
defines() { nm --defined-only "$1" | awk '{print $3}' | grep -qx "$2"; }

if links_libssl "$pqify"; then bad "pqify links libssl"; else ok "pqify does not link libssl"; fi
if links_libssl "$bench"; then ok "pqify-bench links libssl (the check sees it)"; else bad "pqify-bench does not link libssl: the check sees nothing"; fi

for sym in pqify_alloc_count pqify_alloc_count_available; do
  if defines "$pqify" "$sym"; then bad "pqify defines $sym"; else ok "pqify does not define $sym"; fi
  if defines "$bench" "$sym"; then ok "pqify-bench defines $sym"; else bad "pqify-bench lacks $sym"; fi
done
# Sanitizer runtimes are linked into every executable and define malloc there.
if [ "$sanitized" = 1 ]; then
  echo "note: sanitizer build, whose runtime defines malloc in every binary: malloc not checked"
else
  for sym in malloc free calloc realloc; do
    if defines "$pqify" "$sym"; then bad "pqify defines $sym"; else ok "pqify does not define $sym"; fi
  done
  if defines "$bench" malloc; then ok "pqify-bench defines malloc"; else bad "pqify-bench does not define malloc: the check sees nothing"; fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$pqify" "$tmp/pqify"
"$tmp/pqify" bench kem --quick >"$tmp/out" 2>"$tmp/err"
rc=$?
want="pqify bench: cannot run $tmp/pqify-bench: No such file or directory (pqify-bench is built and installed beside the pqify binary)"
if [ "$rc" = 1 ] && [ "$(cat "$tmp/err")" = "$want" ] && [ ! -s "$tmp/out" ]; then
  ok "without pqify-bench: exit 1 and one line saying why"
else
  bad "without pqify-bench: exit $rc, stderr: $(cat "$tmp/err")"
fi

[ "$failures" = 0 ] || { echo "$failures check(s) failed"; exit 1; }
