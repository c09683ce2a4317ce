#!/usr/bin/env bash
# gen-man.sh PQIFY PQIFY_KAFKA OUTDIR VERSION: man pages from --help, one per
# command that `pqify --help` lists (so a new command gets its page without an
# edit here), with help2man; without help2man, the --help texts themselves.
set -euo pipefail
pqify=$1 kafka=$2 out=$3 version=$4
mkdir -p "$out"
rm -f "$out"/*.1 "$out"/*.txt
commands=$("$pqify" --help | sed -n '/^commands:/,/^$/s/^  \([a-z0-9-]*\)  *\(.*\)$/\1\t\2/p')
[ -n "$commands" ] || { echo "gen-man.sh: no commands in '$pqify --help'" >&2; exit 1; }
page() { # page NAME SUMMARY PROGRAM...
  local name=$1 summary=$2; shift 2
  if command -v help2man >/dev/null 2>&1; then
    help2man --no-info --no-discard-stderr --version-string="$version" --section=1 \
             --name="$summary" --output="$out/$name.1" "$*"
    # help2man titles every page after the binary; the page is the command's.
    sed -i "s/^\.TH PQIFY /.TH $(printf '%s' "$name" | tr 'a-z-' 'A-Z-') /" "$out/$name.1"
  else
    "$@" --help >"$out/$name.txt"
  fi
}
page pqify "hybrid post-quantum TLS 1.3: services, tools and the demo" "$pqify"
page pqify-kafka "pqify with the Kafka sink of logrecv (librdkafka)" "$kafka"
while IFS=$'\t' read -r cmd summary; do
  page "pqify-$cmd" "$summary" "$pqify" "$cmd"
done <<<"$commands"
