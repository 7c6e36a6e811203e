#!/usr/bin/env bash
# The SLO evaluator's engine time per minute step, on SQLite (issue target: 1,000 SLOs over
# pushed counts in under 1 s a step).
#
# Builds and runs crates/klaxon-server/examples/slo_bench.rs (release): it opens a fresh SQLite
# database, defines SLOS SLOs (99.9 % over 30 days, the three default rules) on one service and
# pushes each 30 days of hourly counts and 25 hours of minute counts, then runs one warm-up step
# (shown, not counted: right after seeding its reads meet a cold cache) and STEPS evaluation
# steps as the `slo.evaluate` job does (every SLO judged at the step, what changed written):
#   calm      nothing changes (the usual minute): only reads
#   fires     a burst makes every SLO's fast rule fire: an alert through the pipeline and a
#             record per SLO
#   resolves  a flood of good events resolves them all: a resolve signal and a record per SLO
# The peer is the same evaluator before its sums were bucketed (one query per window), measured
# once and recorded in docs/performance.md; no other open tool evaluates pushed counts in-process.
# A missed target is reported, not an error. Output is kept in target/bench/slos-<time>/.
#
# Settings (environment): SLOS (default 1000), STEPS (calm steps, default 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
SLOS="${SLOS:-1000}"
STEPS="${STEPS:-10}"
say() { printf '==> %s\n' "$*" >&2; }

say "building the benchmark (release)"
cargo build --release -q -p klaxon-server --example slo_bench >&2
bin="$(readlink -f "${CARGO_TARGET_DIR:-target}")/release/examples/slo_bench"
results="target/bench/slos-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
SLOS="$SLOS" STEPS="$STEPS" "$bin" 2>"$results/stderr.txt" | tee "$results/steps.txt" | sed 's/^/==> /' >&2
grep -v '^step' "$results/steps.txt" || true
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

calm="$(sed -n 's/.*nothing changes: p50 \([0-9.]*\) s, max \([0-9.]*\) s.*/\2/p' "$results/steps.txt")"
echo
echo "Targets:"
if [ -n "$calm" ] && awk -v x="$calm" 'BEGIN { exit !(x < 1.0) }'; then
  echo "PASS  $SLOS SLOs evaluated in under 1 s a step (calm steps, max $calm s)"
else
  echo "FAIL  $SLOS SLOs evaluated in under 1 s a step (calm steps, max ${calm:-?} s)"
fi
for kind in fires resolves; do
  t="$(sed -n "s/.*every fast rule $kind: \([0-9.]*\) s.*/\1/p" "$results/steps.txt")"
  if [ -n "$t" ] && awk -v x="$t" 'BEGIN { exit !(x < 1.0) }'; then
    echo "PASS  $SLOS SLOs evaluated in under 1 s when every one $kind a rule ($t s)"
  else
    echo "FAIL  $SLOS SLOs evaluated in under 1 s when every one $kind a rule (${t:-?} s)"
  fi
done
echo "Raw output: $results"
