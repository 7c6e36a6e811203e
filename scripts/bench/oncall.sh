#!/usr/bin/env bash
# "Who is on call now": lookups over SCHEDULES schedules of 5 layers each, on SQLite and on
# PostgreSQL.
#
# For each backend it starts `klaxon serve` (release build, defaults), and a Python driver creates
# through the API USERS users and SCHEDULES schedules, each with 5 layers in one of six time zones
# (a weekly rotation; a daily one restricted to 12 hours a day; 8-hour follow-the-sun turns; a
# weekday business-hours layer with five weekly windows; a fortnightly weekend layer that ends),
# and an override on every 10th schedule covering now. Then wrk on loopback measures, each for a
# WARMUP run and a DURATION run:
#   one        GET /api/v1/schedules/{id}/oncalls    a random schedule per request, 1 connection
#   one-load   the same with CONNECTIONS connections
#   page       GET /api/v1/oncalls?limit=500          half of all schedules per request, 1 connection
# and a Python client times ROUNDS sequential reads of every schedule through /api/v1/oncalls
# (following the cursor: SCHEDULES / 500 requests per round). It prints requests/s, p50, p99 and
# max per run, and checks the target (issue 4): single-schedule lookups at p99 under 5 ms. A
# missed target is reported, not an error; the script fails only when it cannot run.
#
# Installs wrk, python3, curl and postgresql with apt-get when they are missing and it can.
# Everything it starts (Klaxon, a throwaway PostgreSQL cluster) is stopped and its temporary
# directory removed on exit, also on failure or Ctrl-C. Raw wrk output and server logs are kept
# in target/bench/oncall-<time>/.
#
# Settings (environment): SCHEDULES (default 1000), USERS (default 50), DURATION (seconds,
# default 10), WARMUP (seconds, default 3), CONNECTIONS (default 8), THREADS (default 2), ROUNDS
# (default 20), KLAXON_BIN (skip the build and use this binary).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"

SCHEDULES="${SCHEDULES:-1000}"
USERS="${USERS:-50}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
CONNECTIONS="${CONNECTIONS:-8}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-20}"
TARGET_P99_MS=5

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/bench/oncall.sh: %s\n' "$*" >&2; exit 1; }

# --- system packages ---------------------------------------------------------------------------
pg_bin=""
find_pg() { for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done; return 0; }
find_pg
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
[ -n "$pg_bin" ] || need_pkgs+=(postgresql)
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || need_pkgs+=("$tool"); done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]}"
    apt-get update -qq >/dev/null
    # The packages must not start their system services (a PostgreSQL cluster on :5432): a
    # policy-rc.d that refuses them, for the length of the install only.
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
work="$(mktemp -d /tmp/klaxon-oncall.XXXXXX)"
chmod 755 "$work"
results="$repo/target/bench/oncall-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
server_pid=""
pg_data=""
wrk_pid=""

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
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null
  stop_server
  stop_pg
  # Keep the logs with the results (not server.out: it holds the first-run admin password).
  for f in "$work"/*/*.log; do
    [ -f "$f" ] && cp "$f" "$results/$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null
  done
  rm -rf "$work"
  [ "$rc" = 0 ] || printf 'scripts/bench/oncall.sh: failed (exit %s); logs in %s\n' "$rc" "$results" >&2
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

# --- the data set: users and schedules through the API -----------------------------------------
cat >"$work/populate.py" <<'PY'
"""Creates USERS users and SCHEDULES schedules of 5 layers through Klaxon's API; prints the
schedule ids, one a line."""
import datetime
import http.client
import json
import random
import sys
import threading
import urllib.parse

base, token, n_users, n_schedules = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
url = urllib.parse.urlsplit(base)
rng = random.Random(4)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC",
         "America/Los_Angeles"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


class Api:
    def __init__(self):
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def call(self, method, path, body=None):
        headers = {"Authorization": "Bearer " + token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status >= 300:
            sys.exit(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


def in_parallel(jobs, work, threads=4):
    """Runs work(api, job) for every job on `threads` connections; returns the results in order."""
    out = [None] * len(jobs)
    lock = threading.Lock()
    todo = list(enumerate(jobs))

    def run():
        api = Api()
        while True:
            with lock:
                if not todo:
                    return
                i, job = todo.pop()
            out[i] = work(api, job)

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if any(o is None for o in out):
        sys.exit("some requests failed")
    return out


users = in_parallel(
    list(range(n_users)),
    lambda api, i: api.call("POST", "/api/v1/users", {
        "email": f"oncall{i}@bench.example", "name": f"Responder {i}", "role": "responder",
        "password": "correct horse battery staple"})["id"])


def pick(k):
    return rng.sample(users, k)


def layers():
    return [
        {"name": "weekly", "start": "2025-01-06T09:00", "users": pick(4),
         "turn": {"count": 1, "unit": "weeks"}},
        {"name": "daily", "start": "2025-06-01T08:00", "users": pick(3),
         "turn": {"count": 1, "unit": "days"},
         "restrictions": [{"type": "daily", "start": "08:00", "duration_minutes": 720}]},
        {"name": "follow the sun", "start": "2025-01-01T00:00", "users": pick(3),
         "turn": {"count": 8, "unit": "hours"}},
        {"name": "business hours", "start": "2025-01-06T00:00", "users": pick(2),
         "turn": {"count": 1, "unit": "days"},
         "restrictions": [{"type": "weekly", "start_weekday": d, "start": "09:00",
                           "duration_minutes": 480} for d in WEEKDAYS]},
        {"name": "weekend cover", "start": "2026-01-03T00:00", "end": "2030-01-01T00:00:00Z",
         "users": pick(2), "turn": {"count": 2, "unit": "weeks"},
         "restrictions": [{"type": "weekly", "start_weekday": "saturday", "start": "00:00",
                           "duration_minutes": 2880}]},
    ]


specs = [{"name": f"schedule {i:05d}", "time_zone": ZONES[i % len(ZONES)], "layers": layers()}
         for i in range(n_schedules)]
ids = in_parallel(specs, lambda api, s: api.call("POST", "/api/v1/schedules", s)["id"])

now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fmt = lambda t: t.isoformat().replace("+00:00", "Z")
covers = [(sid, rng.choice(users)) for sid in ids[::10]]
in_parallel(covers, lambda api, c: api.call("POST", f"/api/v1/schedules/{c[0]}/overrides", {
    "user_id": c[1], "start": fmt(now - datetime.timedelta(hours=1)),
    "end": fmt(now + datetime.timedelta(hours=6))}))
print("\n".join(ids))
PY

cat >"$work/rounds.py" <<'PY'
"""Times ROUNDS reads of every schedule through GET /api/v1/oncalls (following the cursor) on
one keep-alive connection; prints one machine-readable line."""
import http.client
import json
import sys
import time
import urllib.parse

base, token, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
times, rows, nobody = [], 0, 0
for _ in range(rounds):
    t0 = time.perf_counter()
    cursor, at, rows, nobody = None, None, 0, 0
    while True:
        q = {"limit": "500"}
        if cursor:
            q["cursor"] = cursor
        if at:
            q["at"] = at  # every page about the same instant
        conn.request("GET", "/api/v1/oncalls?" + urllib.parse.urlencode(q),
                     headers={"Authorization": "Bearer " + token})
        resp = conn.getresponse()
        page = json.loads(resp.read())
        if resp.status != 200:
            sys.exit(f"GET /api/v1/oncalls: {resp.status} {page}")
        at = page["at"]
        rows += len(page["items"])
        nobody += sum(1 for r in page["items"] if r["user_id"] is None)
        cursor = page["next_cursor"]
        if not cursor:
            break
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
pct = lambda p: times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
print(f"ROUNDS rows={rows} nobody={nobody} p50_ms={pct(50):.2f} p99_ms={pct(99):.2f} "
      f"max_ms={times[-1]:.2f}")
PY

# --- wrk scripts -------------------------------------------------------------------------------
cat >"$work/common.lua" <<'LUA'
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d non2xx=%d sockerr=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
LUA

# One random schedule per request, from the ids file.
cat >"$work/one.lua" <<'LUA'
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids = {}
function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  return wrk.format("GET", "/api/v1/schedules/" .. ids[math.random(#ids)] .. "/oncalls")
end
LUA

cat >"$work/page.lua" <<'LUA'
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
end
function request()
  return wrk.format("GET", "/api/v1/oncalls?limit=500")
end
LUA
export BENCH_LUA_DIR="$work"

# run_wrk NAME CONNECTIONS URL LUA ARGS...: a warm-up and a measured run; sets w_rps w_p50 w_p99
# w_max w_non2xx.
run_wrk() {
  local name="$1" conns="$2" url="$3" lua="$4" threads="$THREADS"
  shift 4
  [ "$conns" -lt "$threads" ] && threads="$conns"
  local out="$results/$name.wrk.txt" line
  wrk -t "$threads" -c "$conns" -d "${WARMUP}s" --timeout 10s -s "$lua" "$url" -- "$@" >/dev/null 2>&1 \
    || die "wrk warm-up failed against $url"
  wrk -t "$threads" -c "$conns" -d "${DURATION}s" --timeout 10s --latency -s "$lua" "$url" -- "$@" \
    >"$out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed against $url"; }
  wrk_pid=""
  line="$(grep '^BENCH ' "$out")" || { cat "$out" >&2; die "wrk printed no summary"; }
  field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
  w_rps="$(awk -v r="$(field requests)" -v d="$(field duration_us)" 'BEGIN { printf "%.0f", r / (d / 1e6) }')"
  w_p50="$(awk -v u="$(field p50_us)" 'BEGIN { printf "%.2f", u / 1000 }')"
  w_p99="$(awk -v u="$(field p99_us)" 'BEGIN { printf "%.2f", u / 1000 }')"
  w_max="$(awk -v u="$(field max_us)" 'BEGIN { printf "%.2f", u / 1000 }')"
  w_non2xx=$(($(field non2xx) + $(field sockerr)))
  say "$name: $w_rps req/s, p50 $w_p50 ms, p99 $w_p99 ms, max $w_max ms, errors $w_non2xx"
}

rows=()
record() {
  # record BACKEND RUN CONNECTIONS: one line of the final table from the last run_wrk.
  rows+=("$(printf '%-10s  %-44s  %5s  %9s  %8s  %8s  %9s  %6s' "$1" "$2" "$3" "$w_rps" "$w_p50" "$w_p99" "$w_max" "$w_non2xx")")
}
verdicts=()

# --- one backend -------------------------------------------------------------------------------
# bench BACKEND DATABASE-URL (empty: SQLite in the temp dir)
bench() {
  local name="$1" db_url="$2"
  local dir="$work/$name" port base token
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
    export KLAXON_OUTGOING_ALLOW=127.0.0.1 # the receiver is on loopback
    [ -n "$db_url" ] && export KLAXON_DATABASE_URL="$db_url"
    exec "$bin" serve --listen "127.0.0.1:$port"
  ) >"$dir/server.out" 2>"$dir/server.log" &
  server_pid=$!
  wait_http "$base/readyz" "$server_pid" 60 || { cat "$dir/server.log" >&2; die "$name: Klaxon did not become ready"; }
  token="$(sed -n 's/^ *API token *//p' "$dir/server.out" | head -n1)"
  [ -n "$token" ] || { cat "$dir/server.out" >&2; die "$name: no API token on Klaxon's first run"; }

  say "$name: creating $USERS users and $SCHEDULES schedules of 5 layers through the API"
  local t0 t1
  t0="$(date +%s.%N)"
  python3 "$work/populate.py" "$base" "$token" "$USERS" "$SCHEDULES" >"$dir/ids.txt" \
    || die "$name: could not create the schedules"
  t1="$(date +%s.%N)"
  [ "$(wc -l <"$dir/ids.txt")" -eq "$SCHEDULES" ] || die "$name: expected $SCHEDULES schedule ids"
  say "$name: created in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

  local one="GET /api/v1/schedules/{id}/oncalls (random id)"
  run_wrk "$name-one-c1" 1 "$base" "$work/one.lua" "$dir/ids.txt" "$token"
  record "$name" "$one" 1
  local p99_c1="$w_p99"
  run_wrk "$name-one-c$CONNECTIONS" "$CONNECTIONS" "$base" "$work/one.lua" "$dir/ids.txt" "$token"
  record "$name" "$one" "$CONNECTIONS"
  local p99_load="$w_p99"
  run_wrk "$name-page-c1" 1 "$base" "$work/page.lua" "$token"
  record "$name" "GET /api/v1/oncalls?limit=500 (500 schedules)" 1

  local line
  line="$(python3 "$work/rounds.py" "$base" "$token" "$ROUNDS")" || die "$name: the all-schedules reads failed"
  echo "$line" >"$results/$name-rounds.txt"
  say "$name: every schedule through /api/v1/oncalls, $ROUNDS rounds: $line"
  rows+=("$(printf '%-10s  %-44s  %5s  %9s  %8s  %8s  %9s  %6s' "$name" \
    "all $SCHEDULES via /api/v1/oncalls, per round" 1 "-" \
    "$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")" \
    "$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")" \
    "$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' <<<"$line")" 0)")

  local verdict
  for pair in "1:$p99_c1" "$CONNECTIONS:$p99_load"; do
    verdict="$(awk -v p="${pair#*:}" -v t="$TARGET_P99_MS" 'BEGIN { print (p < t) ? "PASS" : "FAIL" }')"
    verdicts+=("$verdict  $name: one schedule, ${pair%%:*} connection(s): p99 ${pair#*:} ms (target < $TARGET_P99_MS ms)")
  done
  stop_server
}

say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "klaxon: $("$bin" --version 2>/dev/null || echo "$bin"); ${WARMUP} s warm-up + ${DURATION} s per run"
bench sqlite ""

# A throwaway PostgreSQL cluster, fsync and synchronous commit on.
pg_dir="$work/pg"
mkdir -p "$pg_dir"
[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
pg_port="$(free_port)"
say "starting a throwaway PostgreSQL ($("$pg_bin/postgres" --version)) on 127.0.0.1:$pg_port"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U klaxon --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
pg_data="$pg_dir/data"
as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_dir/postgres.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=100 -c shared_buffers=128MB" \
  start >/dev/null || { cat "$pg_dir/postgres.log" >&2; die "PostgreSQL did not start"; }
bench postgres "postgres://klaxon@127.0.0.1:$pg_port/postgres"

{
  echo
  echo "who is on call: $SCHEDULES schedules x 5 layers, $USERS users, wrk ${DURATION} s per run (after ${WARMUP} s warm-up)"
  printf '%-10s  %-44s  %5s  %9s  %8s  %8s  %9s  %6s\n' backend request conns "req/s" "p50 ms" "p99 ms" "max ms" errors
  printf '%s\n' "${rows[@]}"
  echo
  printf '%s\n' "${verdicts[@]}"
} | tee "$results/summary.txt"
say "results in $results"
