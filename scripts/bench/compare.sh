#!/usr/bin/env bash
# Runs one benchmark for two release binaries back to back, alternating, so that both are measured
# on the same machine in the same state: before/after a change.
#
#   scripts/bench/compare.sh OLD_BIN NEW_BIN [BENCH [ROUNDS]]
#
# BENCH is the name of any script here (ingest, the default; oncall, page-latency, status-page,
# ...); ROUNDS (default 2) runs of each, in
# the order old, new, old, new, ... Each run's own summary is printed under its label; raw output
# stays in target/bench/compare-<time>/.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ $# -ge 2 ] || { echo "usage: $0 OLD_BIN NEW_BIN [BENCH [ROUNDS]]" >&2; exit 2; }
old="$(realpath "$1")"; new="$(realpath "$2")"; bench="${3:-ingest}"; rounds="${4:-2}"
for b in "$old" "$new"; do [ -x "$b" ] || { echo "$0: not an executable: $b" >&2; exit 2; }; done
script="scripts/bench/$bench.sh"
[ -x "$script" ] || { echo "$0: no benchmark $script" >&2; exit 2; }

out="target/bench/compare-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
for r in $(seq "$rounds"); do
  for label in old new; do
    bin="$old"; [ "$label" = new ] && bin="$new"
    log="$out/$bench-$label-$r.txt"
    echo "==> $bench, round $r, $label: $bin" >&2
    KLAXON_BIN="$bin" "$script" >"$log" 2>&1 || { echo "$0: $script failed; see $log" >&2; exit 1; }
  done
done

echo "$bench: $rounds rounds, old = $old, new = $new"
for r in $(seq "$rounds"); do
  for label in old new; do
    echo
    echo "--- round $r, $label"
    # Every benchmark prints its progress as "==> ..." lines and everything else is its summary.
    grep -v '^==> ' "$out/$bench-$label-$r.txt" || true
  done
done
echo
echo "Raw output: $out"
