#!/usr/bin/env bash
# Alert-ingestion benchmark: Klaxon (SQLite, then PostgreSQL) against Prometheus Alertmanager.
#
# Each system gets the same load from wrk on loopback: CONNECTIONS connections, THREADS threads,
# a WARMUP run and then a DURATION run, one new alert per request (a distinct dedup key or label
# set every time, so nothing is deduplicated):
#   Klaxon:       POST /v2/enqueue      (PagerDuty Events v2 trigger, through an events_v2
#                                        integration created with rate_limit_per_minute = 0)
#   Alertmanager: POST /api/v2/alerts   (a JSON array holding one alert; null receiver)
# and reports alerts/s, p99 latency, non-2xx answers, socket errors, the server's peak RSS
# (VmHWM), CPU use and, for Klaxon, the group-commit batch size and a check that every
# acknowledged alert is stored. Then it checks the targets (Klaxon on SQLite: at least 2x
# Alertmanager's alerts/s, p99 under 25 ms, peak RSS below Alertmanager's). A missed target is
# reported, not an error; the script fails only when it cannot run the benchmark.
#
# Installs wrk, prometheus-alertmanager, sqlite3 and postgresql with apt-get when they are missing
# and it can; otherwise it stops and says what to install. Everything it starts (Klaxon,
# Alertmanager, a throwaway PostgreSQL cluster) is stopped and its temporary directory removed on
# exit, also on failure or Ctrl-C. Raw wrk output and server logs are kept in
# target/bench/ingest-<time>/.
#
# Settings (environment): DURATION (seconds, default 20), WARMUP (seconds, default 5),
# CONNECTIONS (default 32), THREADS (default 2), KLAXON_BIN (skip the build and use this binary).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/bench/ingest.sh: %s\n' "$*" >&2; exit 1; }

# --- system packages ---------------------------------------------------------------------------
pg_bin=""
find_pg() { for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done; return 0; }
find_pg
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
[ -x /usr/bin/prometheus-alertmanager ] || need_pkgs+=(prometheus-alertmanager)
command -v sqlite3 >/dev/null 2>&1 || need_pkgs+=(sqlite3)
[ -n "$pg_bin" ] || need_pkgs+=(postgresql)
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || need_pkgs+=("$tool"); done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]}"
    apt-get update -qq >/dev/null
    # The packages must not start their system services (Alertmanager on :9093, a PostgreSQL
    # cluster on :5432): a policy-rc.d that refuses them, for the length of the install only.
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
    fi
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${need_pkgs[@]}" >/dev/null || rc=$?
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || die "apt-get install ${need_pkgs[*]} failed"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    say "installing ${need_pkgs[*]} with sudo"
    sudo apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${need_pkgs[@]}" >/dev/null || die "apt-get install ${need_pkgs[*]} failed"
  else
    die "missing packages: ${need_pkgs[*]}. Install them (sudo apt-get install ${need_pkgs[*]}) and run again."
  fi
  find_pg
fi
command -v wrk >/dev/null 2>&1 || die "wrk not found after installing; install the Debian package wrk"
[ -x /usr/bin/prometheus-alertmanager ] || die "/usr/bin/prometheus-alertmanager not found; install prometheus-alertmanager"
[ -n "$pg_bin" ] || die "PostgreSQL server binaries not found; install postgresql"

# --- build -------------------------------------------------------------------------------------
if [ -n "${KLAXON_BIN:-}" ]; then
  bin="$(readlink -f "$KLAXON_BIN" || echo "$KLAXON_BIN")" # Klaxon runs in another directory
else
  say "building klaxon (release)"
  cargo build --release -p klaxon >&2
  bin="$(readlink -f "${CARGO_TARGET_DIR:-target}")/release/klaxon" # where cargo put it
fi
[ -x "$bin" ] || die "no klaxon binary at $bin"

# --- work space and clean-up -------------------------------------------------------------------
work="$(mktemp -d /tmp/klaxon-bench.XXXXXX)"
chmod 755 "$work"
results="$repo/target/bench/ingest-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
server_pid=""
pg_data=""
pg_pid=""

as_pg() {
  # PostgreSQL refuses to run as root: use the postgres system user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_server() {
  # Stops the server this script started (by its pid): SIGTERM, then SIGKILL after 30 s.
  local pid="$server_pid"
  [ -n "$pid" ] || return 0
  server_pid=""
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_pg() {
  [ -n "$pg_data" ] || return 0
  as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -t 30 stop >/dev/null 2>&1 \
    || as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
  pg_data=""
  pg_pid=""
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "${wrk_pid:-}" ] && kill -TERM "$wrk_pid" 2>/dev/null
  stop_server
  stop_pg
  # Keep the logs with the results, then drop the databases.
  # (Not server.out: it holds the throwaway instance's first-run admin password and token.)
  for f in "$work"/*.log "$work"/*/*.log; do
    [ -f "$f" ] && cp "$f" "$results/$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null
  done
  rm -rf "$work"
  [ "$rc" = 0 ] || printf 'scripts/bench/ingest.sh: failed (exit %s); logs in %s\n' "$rc" "$results" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {
  # wait_http URL PID SECONDS: until URL answers 200, the process dies, or time runs out.
  local url="$1" pid="$2" secs="$3"
  for _ in $(seq 1 $((secs * 10))); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# CPU seconds (user + system) used so far by a process, or by a process and its children
# (cpu_tree: PostgreSQL's postmaster and its backends).
clk_tck="$(getconf CLK_TCK)"
cpu_of() {
  local pid="$1"
  awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / t }' "/proc/$pid/stat" 2>/dev/null || echo 0
}
cpu_tree() {
  local pid="$1" total child
  total="$(cpu_of "$pid")"
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    total="$(awk -v a="$total" -v b="$(cpu_of "$child")" 'BEGIN { printf "%.3f", a + b }')"
  done
  echo "$total"
}
# Busy CPU time of the whole machine (all cores), in seconds.
cpu_machine() {
  awk -v t="$clk_tck" '/^cpu / { printf "%.3f\n", ($2 + $3 + $4 + $7 + $8 + $9) / t }' /proc/stat
}
vmhwm_mib() {
  awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

# --- the wrk scripts ---------------------------------------------------------------------------
# Each wrk thread gets an id in setup(); each request carries "<tag>-<thread>-<n>", so every
# request is a new alert. done() prints one machine-readable line next to wrk's own report.
cat >"$work/common.lua" <<'LUA'
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
LUA

cat >"$work/klaxon.lua" <<'LUA'
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  key = args[1]
  tag = args[2]
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local body = string.format(
    '{"routing_key":"%s","event_action":"trigger","dedup_key":"bench-%s-%d-%d",' ..
    '"payload":{"summary":"bench alert %d","source":"bench","severity":"error"}}',
    key, tag, id, n, n)
  return wrk.format(nil, nil, nil, body)
end
LUA

cat >"$work/alertmanager.lua" <<'LUA'
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function init(args)
  tag = args[1]
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local body = string.format(
    '[{"labels":{"alertname":"bench","n":"%s-%d-%d"},' ..
    '"annotations":{"summary":"bench alert %d","source":"bench","severity":"error"}}]',
    tag, id, n, n)
  return wrk.format(nil, nil, nil, body)
end
LUA
export BENCH_LUA_DIR="$work"

# run_wrk NAME URL LUA SECONDS ARGS...: runs wrk, keeps its output, measures CPU while it runs.
# Sets: w_requests w_rps w_p50 w_p99 w_non2xx w_sockerr w_cpu_server w_cpu_wrk w_cpu_machine
run_wrk() {
  local name="$1" url="$2" lua="$3" secs="$4"
  shift 4
  local out="$results/$name.wrk.txt"
  local s0 m0 s1 m1 w1 line
  s0="$(server_cpu)"
  m0="$(cpu_machine)"
  wrk -t "$THREADS" -c "$CONNECTIONS" -d "${secs}s" --timeout 10s --latency -s "$lua" "$url" -- "$@" \
    >"$out" 2>&1 &
  wrk_pid=$!
  # wrk's own CPU time: read it just before it exits (it is gone after wait).
  w1=0
  while kill -0 "$wrk_pid" 2>/dev/null; do
    w1="$(cpu_of "$wrk_pid")"
    sleep 0.2
  done
  wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed against $url"; }
  wrk_pid=""
  s1="$(server_cpu)"
  m1="$(cpu_machine)"
  line="$(grep '^BENCH ' "$out")" || { cat "$out" >&2; die "wrk printed no summary"; }
  field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
  w_requests="$(field requests)"
  w_non2xx="$(field non2xx)"
  w_sockerr=$(($(field connect) + $(field read) + $(field write) + $(field timeout)))
  w_rps="$(awk -v r="$w_requests" -v d="$(field duration_us)" 'BEGIN { printf "%.0f", r / (d / 1e6) }')"
  w_p50="$(awk -v u="$(field p50_us)" 'BEGIN { printf "%.2f", u / 1000 }')"
  w_p99="$(awk -v u="$(field p99_us)" 'BEGIN { printf "%.2f", u / 1000 }')"
  # CPU in cores (1.0 = one core busy for the whole run); the machine has $(nproc).
  w_cpu_server="$(awk -v a="$s0" -v b="$s1" -v d="$secs" 'BEGIN { printf "%.2f", (b - a) / d }')"
  w_cpu_wrk="$(awk -v b="$w1" -v d="$secs" 'BEGIN { printf "%.2f", b / d }')"
  w_cpu_machine="$(awk -v a="$m0" -v b="$m1" -v d="$secs" 'BEGIN { printf "%.2f", (b - a) / d }')"
  sed -n '/Latency Distribution/,/^BENCH/p' "$out" | grep -v '^BENCH' | sed 's/^/    /' >&2 || true
  say "$name: $w_requests requests, $w_rps/s, p99 ${w_p99} ms, non-2xx $w_non2xx, socket errors $w_sockerr; CPU cores: server $w_cpu_server, wrk $w_cpu_wrk, machine $w_cpu_machine"
}

server_cpu() {
  local total
  total="$(cpu_of "$server_pid")"
  if [ -n "$pg_pid" ]; then
    total="$(awk -v a="$total" -v b="$(cpu_tree "$pg_pid")" 'BEGIN { printf "%.3f", a + b }')"
  fi
  echo "$total"
}

metric() {
  # metric NAME [LABEL-SUBSTRING]: a value from Klaxon's /metrics (0 when absent).
  local v
  v="$(curl -fsS --max-time 5 "$base/metrics" | grep "^$1[{ ]" | grep -F -- "${2:-}" | awk '{ s += $NF } END { printf "%.0f", s }')" || true
  echo "${v:-0}"
}

api() {
  # api METHOD PATH [JSON]: Klaxon's REST API with the admin token; prints the answer.
  local method="$1" path="$2" body="${3:-}"
  if [ -n "$body" ]; then
    curl -fsS --max-time 10 -X "$method" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' --data "$body" "$base$path"
  else
    curl -fsS --max-time 10 -X "$method" -H "Authorization: Bearer $token" "$base$path"
  fi
}

json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# --- Klaxon ------------------------------------------------------------------------------------
# bench_klaxon NAME DATABASE-URL(empty: SQLite in the temp dir) COUNT-COMMAND...
bench_klaxon() {
  local name="$1" db_url="$2"
  local dir="$work/$name" port
  mkdir -p "$dir"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  say "$name: starting Klaxon on $base"
  (
    cd "$dir"
    # Only the settings named here: no klaxon.toml, no KLAXON_* from the caller's environment.
    for v in $(env | sed -n 's/^\(KLAXON_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
    unset RUST_LOG
    export KLAXON_LOG=warn
    export KLAXON_METRICS_ACCESS=open # the script reads /metrics; loopback only
    [ -n "$db_url" ] && export KLAXON_DATABASE_URL="$db_url"
    exec "$bin" serve --listen "127.0.0.1:$port"
  ) >"$dir/server.out" 2>"$dir/server.log" &
  server_pid=$!
  wait_http "$base/readyz" "$server_pid" 60 || { cat "$dir/server.log" >&2; die "$name: Klaxon did not become ready"; }
  token="$(sed -n 's/^ *API token *//p' "$dir/server.out" | head -n1)"
  [ -n "$token" ] || { cat "$dir/server.out" >&2; die "$name: no API token on Klaxon's first run"; }

  local service_id key
  service_id="$(api POST /api/v1/services '{"name":"bench"}' | json_get id)" \
    || die "$name: could not create a service"
  key="$(api POST "/api/v1/services/$service_id/integrations" \
    '{"name":"bench events v2","kind":"events_v2","rate_limit_per_minute":0}' | json_get key)" \
    || die "$name: could not create an integration"

  say "$name: warm-up, ${WARMUP} s"
  run_wrk "$name-warmup" "$base/v2/enqueue" "$work/klaxon.lua" "$WARMUP" "$key" warm
  local warm_requests="$w_requests"
  sleep 1
  local b0 g0
  b0="$(metric klaxon_group_commit_batches)"
  g0="$(metric klaxon_group_commit_writes)"
  say "$name: measured run, ${DURATION} s"
  run_wrk "$name" "$base/v2/enqueue" "$work/klaxon.lua" "$DURATION" "$key" run
  sleep 2 # let writes still in flight when wrk stopped commit
  local b1 g1 accepted stored
  b1="$(metric klaxon_group_commit_batches)"
  g1="$(metric klaxon_group_commit_writes)"
  accepted="$(metric klaxon_http_requests_total 'path="/v2/enqueue",status="202"')"
  rss="$(vmhwm_mib "$server_pid")"
  if [ -z "$db_url" ]; then
    stored="$(sqlite3 "$dir/klaxon-data/klaxon.db" 'SELECT count(*) FROM alerts')"
  else
    stored="$("$pg_bin/psql" -X -A -t -q "$db_url" -c 'SELECT count(*) FROM alerts')"
  fi
  local batches=$((b1 - b0)) writes=$((g1 - g0))
  local avg_batch
  avg_batch="$(awk -v w="$writes" -v b="$batches" 'BEGIN { if (b > 0) printf "%.1f", w / b; else print "n/a" }')"
  # Every 202 must be stored. A few more may be: requests still in flight when wrk stops (at
  # most CONNECTIONS per wrk run) are committed, but their answer has nobody left to read it.
  local verdict="OK" extra=$((stored - accepted))
  if [ "$extra" -lt 0 ]; then
    verdict="LOST $((-extra)) ACKNOWLEDGED ALERTS"
  elif [ "$extra" -gt $((2 * CONNECTIONS)) ]; then
    verdict="MISMATCH"
  fi
  say "$name: group commit in the measured run: $writes writes in $batches transactions (average batch $avg_batch)"
  say "$name: alerts stored $stored; 202 answers (server count) $accepted; wrk completed $((warm_requests + w_requests)) (warm-up + run); $extra stored for requests abandoned in flight -> $verdict"

  r_rps[$name]="$w_rps"; r_p50[$name]="$w_p50"; r_p99[$name]="$w_p99"
  r_non2xx[$name]="$w_non2xx"; r_sockerr[$name]="$w_sockerr"
  r_rss[$name]="$rss"; r_cpu_server[$name]="$w_cpu_server"; r_cpu_wrk[$name]="$w_cpu_wrk"
  r_note[$name]="batch avg $avg_batch; $stored stored, $accepted answered 202 (+$extra in flight at stop): $verdict"
  stop_server
}

declare -A r_rps r_p50 r_p99 r_non2xx r_sockerr r_rss r_cpu_server r_cpu_wrk r_note

say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); wrk -t$THREADS -c$CONNECTIONS, ${WARMUP} s warm-up + ${DURATION} s"
say "klaxon: $("$bin" --version 2>/dev/null || echo "$bin")"

# Other work on the machine skews every figure: say how busy it was before starting.
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
say "load average before the run: $load_before"
bench_klaxon klaxon-sqlite ""

# A throwaway PostgreSQL cluster (as scripts/test.sh starts one): fsync and synchronous commit on.
pg_dir="$work/pg"
mkdir -p "$pg_dir"
[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
pg_port="$(free_port)"
say "starting a throwaway PostgreSQL ($("$pg_bin/postgres" --version)) on 127.0.0.1:$pg_port"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U klaxon --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
pg_data="$pg_dir/data"
as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_dir/postgres.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=100 -c fsync=on -c synchronous_commit=on -c shared_buffers=128MB" \
  start >/dev/null || { cat "$pg_dir/postgres.log" >&2; die "PostgreSQL did not start"; }
pg_pid="$(head -n1 "$pg_data/postmaster.pid")"
bench_klaxon klaxon-postgres "postgres://klaxon@127.0.0.1:$pg_port/postgres"
pg_rss="$(for p in "$pg_pid" $(ps -o pid= --ppid "$pg_pid"); do awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true; done | awk '{ s += $1 } END { printf "%.1f", s / 1024 }')"
say "PostgreSQL's own processes: sum of their peak RSS $pg_rss MiB (not counted in Klaxon's figure; shared buffers are counted once per process)"
stop_pg

# --- Alertmanager ------------------------------------------------------------------------------
am_dir="$work/alertmanager"
mkdir -p "$am_dir/data"
cat >"$am_dir/alertmanager.yml" <<'YAML'
route:
  receiver: "null"
receivers:
  - name: "null"
YAML
am_port="$(free_port)"
am_base="http://127.0.0.1:$am_port"
am_version="$(/usr/bin/prometheus-alertmanager --version 2>&1 | head -n1)"
say "alertmanager: starting $am_version on $am_base"
/usr/bin/prometheus-alertmanager \
  --config.file="$am_dir/alertmanager.yml" \
  --storage.path="$am_dir/data" \
  --web.listen-address="127.0.0.1:$am_port" \
  --cluster.listen-address= \
  --log.level=warn \
  >"$am_dir/server.out" 2>"$am_dir/server.log" &
server_pid=$!
wait_http "$am_base/-/ready" "$server_pid" 60 || { cat "$am_dir/server.log" >&2; die "Alertmanager did not become ready"; }
say "alertmanager: warm-up, ${WARMUP} s"
run_wrk alertmanager-warmup "$am_base/api/v2/alerts" "$work/alertmanager.lua" "$WARMUP" warm
say "alertmanager: measured run, ${DURATION} s"
run_wrk alertmanager "$am_base/api/v2/alerts" "$work/alertmanager.lua" "$DURATION" run
sleep 1
am_rss="$(vmhwm_mib "$server_pid")" # before listing the alerts, which costs memory of its own
am_alerts="$(curl -fsS --max-time 30 "$am_base/api/v2/alerts?silenced=true&inhibited=true&active=true&unprocessed=true" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' || echo '?')"
name=alertmanager
r_rps[$name]="$w_rps"; r_p50[$name]="$w_p50"; r_p99[$name]="$w_p99"
r_non2xx[$name]="$w_non2xx"; r_sockerr[$name]="$w_sockerr"
r_rss[$name]="$am_rss"; r_cpu_server[$name]="$w_cpu_server"; r_cpu_wrk[$name]="$w_cpu_wrk"
r_note[$name]="$am_alerts alerts held in memory"
stop_server

# --- summary -----------------------------------------------------------------------------------
print_summary() {
  echo
  echo "Alert ingestion: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (after ${WARMUP} s warm-up), one new alert per request, $(nproc) cores shared by wrk and the server"
  echo
  printf '| %-15s | %9s | %8s | %8s | %7s | %8s | %13s | %10s | %8s | %s |\n' \
    system alerts/s "p50 ms" "p99 ms" non-2xx "sock err" "peak RSS MiB" "server CPU" "wrk CPU" notes
  printf '|-%-15s-|-%9s-|-%8s-|-%8s-|-%7s-|-%8s-|-%13s-|-%10s-|-%8s-|-%s-|\n' '' '' '' '' '' '' '' '' '' '-----' | tr ' ' '-'
  for name in klaxon-sqlite klaxon-postgres alertmanager; do
    printf '| %-15s | %9s | %8s | %8s | %7s | %8s | %13s | %10s | %8s | %s |\n' \
      "$name" "${r_rps[$name]}" "${r_p50[$name]}" "${r_p99[$name]}" "${r_non2xx[$name]}" \
      "${r_sockerr[$name]}" "${r_rss[$name]}" "${r_cpu_server[$name]}" "${r_cpu_wrk[$name]}" "${r_note[$name]}"
  done
  echo "(CPU in cores, 1.00 = one core busy for the whole run; klaxon-postgres server CPU includes PostgreSQL's processes, its RSS does not)"
  echo "(load average before the run: $load_before; PostgreSQL's own processes: sum of peak RSS $pg_rss MiB)"
  echo

  ratio="$(awk -v k="${r_rps[klaxon-sqlite]}" -v a="${r_rps[alertmanager]}" 'BEGIN { printf "%.2f", k / a }')"
  pg_ratio="$(awk -v k="${r_rps[klaxon-postgres]}" -v a="${r_rps[alertmanager]}" 'BEGIN { printf "%.2f", k / a }')"
  echo "Klaxon-SQLite alerts/s / Alertmanager alerts/s = $ratio   (Klaxon-PostgreSQL: $pg_ratio)"
  echo
  check() { if awk "BEGIN { exit !($2) }"; then echo "PASS  $1"; else echo "FAIL  $1"; fi; }
  echo "Targets (Klaxon on SQLite):"
  check "throughput >= 2x Alertmanager: ratio $ratio" "$ratio >= 2"
  check "p99 < 25 ms: ${r_p99[klaxon-sqlite]} ms" "${r_p99[klaxon-sqlite]} < 25"
  check "peak RSS below Alertmanager's: ${r_rss[klaxon-sqlite]} MiB vs ${r_rss[alertmanager]} MiB" \
    "${r_rss[klaxon-sqlite]} < ${r_rss[alertmanager]}"
  for name in klaxon-sqlite klaxon-postgres alertmanager; do
    if [ "${r_non2xx[$name]}" != 0 ] || [ "${r_sockerr[$name]}" != 0 ]; then
      echo "NOTE  $name: ${r_non2xx[$name]} non-2xx answers and ${r_sockerr[$name]} socket errors in the measured run"
    fi
  done
  case "${r_note[klaxon-sqlite]} ${r_note[klaxon-postgres]}" in
    *MISMATCH* | *LOST*) echo "NOTE  stored alerts do not match the 202 count (see the notes column)" ;;
  esac
}
print_summary | tee "$results/summary.txt"
echo
echo "Raw wrk output, logs and this summary: ${results#"$repo"/}"
