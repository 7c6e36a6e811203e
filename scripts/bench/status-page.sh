#!/usr/bin/env bash
# Status page readers: Klaxon's public page against nginx serving the same page as static files.
#
# It starts `klaxon serve` (release build, SQLite, defaults) and creates through the API one
# public page with COMPONENTS components (60 % of them in groups of 10, the rest on their own)
# and INCIDENTS public incidents, each published (investigating, one to three components moved
# to an outage), every third one identified, and all of them resolved (32 requests at a time).
# Then `klaxon status-pages export DIR` writes the page as static files, which are gzipped
# (`gzip -6 -n -k`) for nginx's gzip_static (the two measured documents, when the export is
# byte-identical to what Klaxon serves, get Klaxon's own gzip bytes instead), and Debian's nginx
# serves that directory. With both servers up, wrk on loopback measures each document on Klaxon
# and then on nginx, back to back (a WARMUP run, then a DURATION run):
#   summary.json   GET /status/bench/api/v2/summary.json    (Statuspage's API v2)
#   page           GET /status/bench                        (the HTML page people read)
# every request with `Accept-Encoding: gzip`, as every browser sends it (ACCEPT_ENCODING=
# empty: plain bodies), no If-None-Match (a first visit). Klaxon answers from its in-memory
# snapshot with its pre-compressed gzip; nginx sends the pre-compressed .gz file.
#
# "No database query per public request" is counted in the measured runs themselves: Klaxon runs
# with `KLAXON_LOG=warn,sqlx::query=debug`, so every statement sent through sqlx (all reads, and
# every write but the group-commit writer's) is one line in its log, and the group-commit writer's
# own count is read from /metrics. The statements of an idle window of the same instance show
# the background rate (the snapshot's revision check every second, the engine).
#
# It prints req/s, p50, p99, max, bytes per response, errors, and the CPU of the server and of
# wrk, and checks the targets (issue: Klaxon at least 50 % of nginx's requests per second on both
# documents, p99 under 5 ms at 32 connections, no database query per public request). A missed
# target is reported, not an error; the script fails only when it cannot run the benchmark.
#
# Installs wrk, nginx, curl, python3 and gzip with apt-get when missing and it can. Everything
# it starts (Klaxon, nginx) is stopped and its temporary directory removed on exit, also on
# failure or Ctrl-C. Raw wrk output, logs and the summary are kept in
# target/bench/status-page-<time>/.
#
# Settings (environment): DURATION (seconds, default 20), WARMUP (seconds, default 5),
# CONNECTIONS (default 32), THREADS (default 2), COMPONENTS (default 100), INCIDENTS (default
# 1000), ACCEPT_ENCODING (default gzip), KLAXON_BIN (skip the build and use this binary).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
COMPONENTS="${COMPONENTS:-100}"
INCIDENTS="${INCIDENTS:-1000}"
ACCEPT_ENCODING="${ACCEPT_ENCODING-gzip}"
IDLE_SECONDS=10 # the window that shows Klaxon's background statements
SLUG=bench

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/bench/status-page.sh: %s\n' "$*" >&2; exit 1; }

# --- system packages ---------------------------------------------------------------------------
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
[ -x /usr/sbin/nginx ] || need_pkgs+=(nginx)
for tool in curl python3 gzip; do command -v "$tool" >/dev/null 2>&1 || need_pkgs+=("$tool"); done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]}"
    apt-get update -qq >/dev/null
    # The packages must not start their system services (nginx on :80): a policy-rc.d that
    # refuses them, for the length of the install only.
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
fi
command -v wrk >/dev/null 2>&1 || die "wrk not found after installing; install the Debian package wrk"
[ -x /usr/sbin/nginx ] || die "/usr/sbin/nginx not found; install the Debian package nginx"
/usr/sbin/nginx -V 2>&1 | grep -q -- --with-http_gzip_static_module \
  || die "this nginx has no gzip_static module (Debian's nginx has it)"

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
work="$(mktemp -d /tmp/klaxon-status-page.XXXXXX)"
chmod 755 "$work" # nginx's workers (user nobody) read the exported files
results="$repo/target/bench/status-page-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
klaxon_pid=""
nginx_pid=""
wrk_pid=""

stop_pid() {
  # Stops a server this script started (by its pid): SIGTERM, then SIGKILL after 30 s. nginx
  # runs in the foreground (daemon off), so its master is this pid and takes its workers along.
  local pid="$1"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$wrk_pid" ] && kill -TERM "$wrk_pid" 2>/dev/null
  stop_pid "$nginx_pid"
  stop_pid "$klaxon_pid"
  # Keep the logs with the results (not server.out: it holds the first-run admin password).
  for f in "$work"/*/*.log; do
    [ -f "$f" ] && cp "$f" "$results/$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null
  done
  rm -rf "$work"
  [ "$rc" = 0 ] || printf 'scripts/bench/status-page.sh: failed (exit %s); logs in %s\n' "$rc" "$results" >&2
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

# CPU seconds (user + system) used so far by a process, and by a process and its children (nginx's
# master and its workers).
clk_tck="$(getconf CLK_TCK)"
cpu_of() {
  awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
cpu_tree() {
  local total child
  total="$(cpu_of "$1")"
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    total="$(awk -v a="$total" -v b="$(cpu_of "$child")" 'BEGIN { printf "%.3f", a + b }')"
  done
  echo "$total"
}

# --- the data set: one page through the API ------------------------------------------------------
cat >"$work/populate.py" <<'PY'
"""Creates one public status page with N_COMPONENTS components (60 % in groups of 10) and
N_INCIDENTS public incidents through Klaxon's API: each published (investigating, one to three
components moved), every third one identified, all resolved. Prints what it made."""
import http.client
import json
import random
import sys
import threading
import urllib.parse

base, token, slug, n_components, n_incidents = (
    sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
url = urllib.parse.urlsplit(base)
rng = random.Random(7)
AREAS = ["API", "Dashboard", "Checkout", "Search", "Notifications", "Webhooks", "Login",
         "Reports", "Exports", "Billing", "Mobile app", "CDN"]
REGIONS = ["EU West", "EU Central", "US East", "US West", "Asia Pacific", "South America"]


class Api:
    def __init__(self):
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

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


def in_parallel(jobs, work, threads=8):
    """Runs work(api, job) for every job on `threads` connections; returns the results in order."""
    out = [None] * len(jobs)
    lock = threading.Lock()
    todo = list(enumerate(jobs))
    todo.reverse()

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


api = Api()
pages = f"/api/v1/status-pages/{slug}"
api.call("POST", "/api/v1/status-pages", {
    "name": "Bench Status", "slug": slug, "time_zone": "Europe/Berlin",
    "footer_links": [{"label": "Docs", "url": "https://docs.example.com"}]})

in_groups = n_components * 6 // 10
n_groups = (in_groups + 9) // 10
groups = [api.call("POST", f"{pages}/components", {
    "name": f"{REGIONS[g % len(REGIONS)]} {g // len(REGIONS) + 1}", "is_group": True,
    "position": g})["code"] for g in range(n_groups)]
specs = []
for i in range(n_components):
    spec = {"name": f"{AREAS[i % len(AREAS)]} {i:03d}", "position": i}
    if i < in_groups:
        spec["group"] = groups[i // 10]
    else:
        spec["position"] = n_groups + i
    if i % 4 == 0:
        spec["description"] = f"{AREAS[i % len(AREAS)]} requests served from this region."
    specs.append(spec)
components = in_parallel(specs, lambda a, s: a.call("POST", f"{pages}/components", s)["code"])

IMPACTS = [("minor", "degraded_performance"), ("major", "partial_outage"),
           ("critical", "major_outage")]
plans = []
for n in range(n_incidents):
    impact, status = IMPACTS[n % 3]
    hit = rng.sample(components, rng.randint(1, 3))
    plans.append((n, impact, status, hit))


def incident(a, plan):
    n, impact, status, hit = plan
    made = a.call("POST", f"{pages}/incidents", {
        "name": f"Elevated error rates ({n})", "impact": impact,
        "components": [{"component": c, "status": status} for c in hit],
        "body": f"We are investigating elevated error rates affecting {len(hit)} component(s). "
                "Some requests fail or take longer than usual.",
        "next_update_in_minutes": 30})
    code = made["code"]
    if n % 3 == 0:
        a.call("POST", f"{pages}/incidents/{code}/updates", {
            "status": "identified",
            "body": "A faulty configuration change was identified; we are rolling it back."})
    a.call("POST", f"{pages}/incidents/{code}/updates", {"status": "resolved"})
    return code


# Every write waits until the page is rendered again with it, all its documents (~150 ms with
# 1,000 incidents on 2 cores); one rendering covers the writes that wait together, so more of
# them at once makes the whole faster: 32 take about 20 s on 2 cores, 8 about a minute.
codes = in_parallel(plans, incident, threads=32)
print(f"page={slug} groups={len(groups)} components={len(components)} incidents={len(codes)}")
PY

# --- wrk scripts -------------------------------------------------------------------------------
# One fixed request, built once; done() prints one machine-readable line next to wrk's report.
cat >"$work/get.lua" <<'LUA'
local req
function init(args)
  if args[2] ~= nil and args[2] ~= "" then
    wrk.headers["Accept-Encoding"] = args[2]
  end
  req = wrk.format("GET", args[1])
end
function request()
  return req
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d non2xx=%d sockerr=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
LUA

# run_wrk NAME URL PATH SECONDS SERVER-PID: runs wrk, keeps its output, measures CPU while it
# runs. Sets: w_requests w_rps w_rps_raw w_p50 w_p99 w_p99_us w_max w_bytes w_errors
# w_cpu_server w_cpu_wrk
run_wrk() {
  local name="$1" url="$2" path="$3" secs="$4" server_pid="$5"
  local out="$results/$name.wrk.txt" s0 s1 w1 line
  s0="$(cpu_tree "$server_pid")"
  wrk -t "$THREADS" -c "$CONNECTIONS" -d "${secs}s" --timeout 10s --latency -s "$work/get.lua" \
    "$url" -- "$path" "$ACCEPT_ENCODING" >"$out" 2>&1 &
  wrk_pid=$!
  # wrk's own CPU time: read it just before it exits (it is gone after wait). A read that
  # finds it gone gives 0: keep the last good one.
  w1=0
  while kill -0 "$wrk_pid" 2>/dev/null; do
    w1="$(awk -v a="$w1" -v b="$(cpu_of "$wrk_pid")" 'BEGIN { printf "%.3f", (b > a ? b : a) }')"
    sleep 0.2
  done
  wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed against $url"; }
  wrk_pid=""
  s1="$(cpu_tree "$server_pid")"
  line="$(grep '^BENCH ' "$out")" || { cat "$out" >&2; die "wrk printed no summary"; }
  field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
  w_requests="$(field requests)"
  w_errors=$(($(field non2xx) + $(field sockerr)))
  w_rps_raw="$(awk -v r="$w_requests" -v d="$(field duration_us)" 'BEGIN { printf "%.3f", r / (d / 1e6) }')"
  w_rps="$(awk -v r="$w_rps_raw" 'BEGIN { printf "%.0f", r }')"
  w_bytes="$(awk -v b="$(field bytes)" -v r="$w_requests" 'BEGIN { printf "%.0f", (r > 0 ? b / r : 0) }')"
  w_p50="$(awk -v u="$(field p50_us)" 'BEGIN { printf "%.2f", u / 1000 }')"
  w_p99_us="$(field p99_us)"
  w_p99="$(awk -v u="$w_p99_us" 'BEGIN { printf "%.2f", u / 1000 }')"
  w_max="$(awk -v u="$(field max_us)" 'BEGIN { printf "%.2f", u / 1000 }')"
  # CPU in cores (1.0 = one core busy for the whole run); the machine has $(nproc).
  w_cpu_server="$(awk -v a="$s0" -v b="$s1" -v d="$secs" 'BEGIN { printf "%.2f", (b - a) / d }')"
  w_cpu_wrk="$(awk -v b="$w1" -v d="$secs" 'BEGIN { printf "%.2f", b / d }')"
  say "$name: $w_rps req/s, p50 $w_p50 ms, p99 $w_p99 ms, max $w_max ms, $w_bytes bytes/response, errors $w_errors; CPU cores: server $w_cpu_server, wrk $w_cpu_wrk"
}

DOCS=(summary page)
declare -A doc_path=([summary]="/status/$SLUG/api/v2/summary.json" [page]="/status/$SLUG")
declare -A r_rps r_rps_raw r_p50 r_p99 r_p99_us r_max r_bytes r_errors r_cpu_server r_cpu_wrk

# measure SYSTEM DOC BASE PID: a warm-up and a measured run of one document on one server.
measure() {
  local system="$1" doc="$2" url="$3" pid="$4"
  say "$system $doc: warm-up ${WARMUP} s, then ${DURATION} s"
  run_wrk "$system-$doc-warmup" "$url" "${doc_path[$doc]}" "$WARMUP" "$pid"
  measured_begin "$system" "$doc"
  run_wrk "$system-$doc" "$url" "${doc_path[$doc]}" "$DURATION" "$pid"
  measured_end "$system" "$doc"
  local k="$system/$doc"
  r_rps[$k]="$w_rps"; r_p50[$k]="$w_p50"; r_p99[$k]="$w_p99"; r_max[$k]="$w_max"
  r_rps_raw[$k]="$w_rps_raw"; r_p99_us[$k]="$w_p99_us"
  r_bytes[$k]="$w_bytes"; r_errors[$k]="$w_errors"
  r_cpu_server[$k]="$w_cpu_server"; r_cpu_wrk[$k]="$w_cpu_wrk"
}

# --- database statements: counted around Klaxon's measured runs ----------------------------------
statements() { grep -c 'sqlx::query' "$klaxon_dir/server.log" || true; }
metric() {
  # metric NAME: a value from Klaxon's /metrics (0 when absent).
  local v
  v="$(curl -fsS --max-time 5 "$klaxon_base/metrics" | grep "^$1[{ ]" | awk '{ s += $NF } END { printf "%.0f", s }')" || true
  echo "${v:-0}"
}
declare -A q_statements q_writes q_requests
measured_begin() {
  [ "$1" = klaxon ] || return 0
  m_statements="$(statements)"
  m_writes="$(metric klaxon_group_commit_writes)"
}
measured_end() {
  [ "$1" = klaxon ] || return 0
  q_statements[$2]=$(($(statements) - m_statements))
  q_writes[$2]=$(($(metric klaxon_group_commit_writes) - m_writes))
  q_requests[$2]="$w_requests"
  say "klaxon $2: database statements during the run: ${q_statements[$2]} through sqlx, ${q_writes[$2]} group-commit writes, for $w_requests requests"
}

say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); wrk -t$THREADS -c$CONNECTIONS, ${WARMUP} s warm-up + ${DURATION} s per run"
say "klaxon: $("$bin" --version 2>/dev/null || echo "$bin"); nginx: $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
say "load average before the run: $load_before"

# --- Klaxon ------------------------------------------------------------------------------------
klaxon_dir="$work/klaxon"
mkdir -p "$klaxon_dir"
port="$(free_port)"
klaxon_base="http://127.0.0.1:$port"
klaxon_env() {
  # Only the settings named here: no klaxon.toml, no KLAXON_* from the caller's environment.
  for v in $(env | sed -n 's/^\(KLAXON_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
  unset RUST_LOG
  # Every statement sent through sqlx is logged (target sqlx::query, level debug): the count.
  export KLAXON_LOG='warn,sqlx::query=debug'
  export KLAXON_METRICS_ACCESS=open # the script reads /metrics; loopback only
}
say "klaxon: starting on $klaxon_base (SQLite)"
(
  cd "$klaxon_dir"
  klaxon_env
  exec "$bin" serve --listen "127.0.0.1:$port"
) >"$klaxon_dir/server.out" 2>"$klaxon_dir/server.log" &
klaxon_pid=$!
wait_http "$klaxon_base/readyz" "$klaxon_pid" 60 || { cat "$klaxon_dir/server.log" >&2; die "Klaxon did not become ready"; }
token="$(sed -n 's/^ *API token *//p' "$klaxon_dir/server.out" | head -n1)"
[ -n "$token" ] || { cat "$klaxon_dir/server.out" >&2; die "no API token on Klaxon's first run"; }

say "klaxon: creating a page with $COMPONENTS components and $INCIDENTS incidents through the API"
t0="$(date +%s.%N)"
made="$(python3 "$work/populate.py" "$klaxon_base" "$token" "$SLUG" "$COMPONENTS" "$INCIDENTS")" \
  || die "could not create the status page"
t1="$(date +%s.%N)"
seed_secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
say "klaxon: $made, in $seed_secs s"

# The page as static files, written by Klaxon itself from the same database.
www="$work/www"
say "klaxon: klaxon status-pages export $www"
t0="$(date +%s.%N)"
(
  cd "$klaxon_dir"
  klaxon_env
  export KLAXON_LOG=warn
  exec "$bin" status-pages export "$www"
) >"$klaxon_dir/export.log" 2>&1 || { cat "$klaxon_dir/export.log" >&2; die "klaxon status-pages export failed"; }
t1="$(date +%s.%N)"
export_secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
export_files="$(find "$www" -type f | wc -l)"
say "klaxon: exported $export_files files in $export_secs s (reads the database and renders every document once)"
# Pre-compressed copies for nginx's gzip_static, as one would deploy them.
find "$www" -type f \( -name '*.html' -o -name '*.json' -o -name '*.css' -o -name '*.atom' \
  -o -name '*.rss' -o -name '*.svg' \) -exec gzip -6 -n -k {} +
chmod -R a+rX "$www"

# What each side will send: Klaxon's bodies against the exported files, plain and gzipped.
declare -A doc_file=([summary]="$www/status/$SLUG/api/v2/summary.json" [page]="$www/status/$SLUG/index.html")
declare -A same_note size_note
for doc in "${DOCS[@]}"; do
  curl -fsS --max-time 30 -o "$work/klaxon-$doc.plain" "$klaxon_base${doc_path[$doc]}" \
    || die "Klaxon does not serve ${doc_path[$doc]}"
  curl -fsS --max-time 30 -H 'Accept-Encoding: gzip' -o "$work/klaxon-$doc.gz" "$klaxon_base${doc_path[$doc]}"
  [ -f "${doc_file[$doc]}" ] || die "the export has no ${doc_file[$doc]}"
  if cmp -s "$work/klaxon-$doc.plain" "${doc_file[$doc]}"; then
    # The same body: nginx gets Klaxon's own gzip of it too, so both send the same bytes.
    gzip -dc "$work/klaxon-$doc.gz" | cmp -s - "${doc_file[$doc]}" \
      || die "Klaxon's gzip of ${doc_path[$doc]} does not unpack to its plain body"
    cp "$work/klaxon-$doc.gz" "${doc_file[$doc]}.gz"
    same_note[$doc]="the export is byte-identical to what Klaxon serves; its .gz is Klaxon's own gzip"
  else
    # Rendered at another minute ("built at", today's bars): keep the difference, tag by tag.
    diff <(tr '>' '\n' <"$work/klaxon-$doc.plain") <(tr '>' '\n' <"${doc_file[$doc]}") \
      >"$results/$doc-served-vs-export.diff" || true
    same_note[$doc]="the export differs from what Klaxon serves in $(grep -c '^<' "$results/$doc-served-vs-export.diff" || true) tags (see $doc-served-vs-export.diff)"
  fi
  size_note[$doc]="plain $(wc -c <"$work/klaxon-$doc.plain") / $(wc -c <"${doc_file[$doc]}") bytes, gzip $(wc -c <"$work/klaxon-$doc.gz") / $(wc -c <"${doc_file[$doc]}.gz") bytes (Klaxon / nginx)"
  say "$doc: ${size_note[$doc]}; ${same_note[$doc]}"
done
incidents_on_page="$(grep -o 'href="/status/[a-z0-9-]*/incidents/[a-z0-9]*"' "$work/klaxon-page.plain" | sort -u | wc -l)"
components_in_summary="$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["components"]; print(sum(1 for x in c if not x["group"]), sum(1 for x in c if x["group"]))' "$work/klaxon-summary.plain")"
say "klaxon: summary.json lists ${components_in_summary% *} components and ${components_in_summary#* } groups; the HTML page links $incidents_on_page incidents"

# The background: statements while nobody reads.
say "klaxon: counting database statements while idle, $IDLE_SECONDS s"
sleep 2
i0="$(statements)"
sleep "$IDLE_SECONDS"
idle_statements=$(($(statements) - i0))
say "klaxon: $idle_statements statements in $IDLE_SECONDS s idle"
[ "$idle_statements" -gt 0 ] || say "warning: no statement logged while idle; is the sqlx::query log working?"

# --- nginx -------------------------------------------------------------------------------------
ngx="$work/nginx"
mkdir -p "$ngx/tmp"
nport="$(free_port)"
nginx_base="http://127.0.0.1:$nport"
# Headers as Klaxon sends them (cache, CSP, nosniff, CORS on the JSON), precompressed files only
# (gzip_static, no compression on the fly), no access log (Klaxon logs no request at warn),
# connections kept open as long as the client wants (Klaxon never closes a kept-alive one).
nginx_user="" # the master runs as root: its workers do not
if [ "$(id -u)" = 0 ]; then
  if id -u www-data >/dev/null 2>&1; then nginx_user="user www-data;"; else nginx_user="user nobody nogroup;"; fi
fi
cat >"$ngx/nginx.conf" <<NGINX
$nginx_user
worker_processes auto;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events {
    worker_connections 1024;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    charset utf-8;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    server {
        listen 127.0.0.1:$nport;
        root $www;
        gzip off;
        gzip_static on;
        gzip_vary on;
        add_header Cache-Control "public, max-age=30";
        add_header Content-Security-Policy "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
        add_header X-Content-Type-Options nosniff;
        location / {
            try_files \$uri \$uri/index.html =404;
        }
        location ~ \.json\$ {
            add_header Cache-Control "public, max-age=30";
            add_header Content-Security-Policy "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
            add_header X-Content-Type-Options nosniff;
            add_header Access-Control-Allow-Origin *;
        }
    }
}
NGINX
say "nginx: starting on $nginx_base, serving $www"
/usr/sbin/nginx -t -q -e "$ngx/error.log" -p "$ngx" -c "$ngx/nginx.conf" 2>"$ngx/check.log" \
  || { cat "$ngx/check.log" "$ngx/error.log" >&2 2>/dev/null; die "nginx refused its configuration"; }
/usr/sbin/nginx -e "$ngx/error.log" -p "$ngx" -c "$ngx/nginx.conf" -g 'daemon off;' \
  >"$ngx/server.log" 2>&1 &
nginx_pid=$!
wait_http "$nginx_base${doc_path[summary]}" "$nginx_pid" 30 || { cat "$ngx/error.log" >&2; die "nginx did not start"; }
for doc in "${DOCS[@]}"; do
  enc="$(curl -fsS --max-time 10 -H 'Accept-Encoding: gzip' -o "$work/nginx-$doc.gz" -w '%{content_type} %header{content-encoding}' "$nginx_base${doc_path[$doc]}")" \
    || die "nginx does not serve ${doc_path[$doc]}"
  cmp -s "$work/nginx-$doc.gz" "${doc_file[$doc]}.gz" || die "nginx did not send the pre-compressed ${doc_file[$doc]}.gz ($enc)"
  say "nginx $doc: $enc, the exported bytes"
done

# --- the measured runs: each document on Klaxon, then at once on nginx -------------------------
# Both servers are up; the one not measured is idle (Klaxon's idle work is its revision check
# every second and a rendering of the page every minute).
for doc in "${DOCS[@]}"; do
  measure klaxon "$doc" "$klaxon_base" "$klaxon_pid"
  measure nginx "$doc" "$nginx_base" "$nginx_pid"
done
klaxon_rss="$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$klaxon_pid/status")"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
stop_pid "$nginx_pid"
nginx_pid=""
stop_pid "$klaxon_pid"
klaxon_pid=""

# --- summary -----------------------------------------------------------------------------------
print_summary() {
  local enc="${ACCEPT_ENCODING:-none}" doc k system
  echo
  echo "Status page readers: Klaxon vs nginx, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (after ${WARMUP} s warm-up), Accept-Encoding: $enc, $(nproc) cores shared by wrk and the server"
  echo "page: $COMPONENTS components in groups and alone, $INCIDENTS resolved incidents (all created today: the HTML page lists $incidents_on_page of them)"
  echo
  printf '| %-12s | %-7s | %9s | %7s | %7s | %7s | %10s | %6s | %10s | %7s |\n' \
    document system "req/s" "p50 ms" "p99 ms" "max ms" "bytes/resp" errors "server CPU" "wrk CPU"
  printf '|-%-12s-|-%-7s-|-%9s-|-%7s-|-%7s-|-%7s-|-%10s-|-%6s-|-%10s-|-%7s-|\n' '' '' '' '' '' '' '' '' '' '' | tr ' ' '-'
  for doc in "${DOCS[@]}"; do
    for system in klaxon nginx; do
      k="$system/$doc"
      printf '| %-12s | %-7s | %9s | %7s | %7s | %7s | %10s | %6s | %10s | %7s |\n' \
        "$([ "$doc" = summary ] && echo summary.json || echo "HTML page")" "$system" "${r_rps[$k]}" \
        "${r_p50[$k]}" "${r_p99[$k]}" "${r_max[$k]}" "${r_bytes[$k]}" "${r_errors[$k]}" \
        "${r_cpu_server[$k]}" "${r_cpu_wrk[$k]}"
    done
  done
  echo "(bytes/resp: headers and body as wrk read them; CPU in cores, 1.00 = one core busy for the whole run; nginx: master and workers)"
  for doc in "${DOCS[@]}"; do
    echo "($doc: ${size_note[$doc]}; ${same_note[$doc]})"
  done
  echo "(load average before the run: $load_before, after: $load_after; seeding took $seed_secs s, the export $export_secs s; Klaxon's peak RSS $klaxon_rss MiB)"
  echo
  local per_s_idle
  per_s_idle="$(awk -v q="$idle_statements" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.1f", q / s }')"
  for doc in "${DOCS[@]}"; do
    echo "Klaxon $doc: ${q_statements[$doc]} statements through sqlx and ${q_writes[$doc]} group-commit writes during the ${DURATION} s run, for ${q_requests[$doc]} requests ($(awk -v q="${q_statements[$doc]}" -v s="$DURATION" 'BEGIN { printf "%.1f", q / s }')/s; idle: $per_s_idle/s)"
  done
  echo
  local ratio p99 q per
  check() { if awk "BEGIN { exit !($2) }"; then echo "PASS  $1"; else echo "FAIL  $1"; fi; }
  echo "Targets:"
  for doc in "${DOCS[@]}"; do
    # Verdicts from the unrounded figures; the ratio shown is cut, never rounded up to pass.
    ratio="$(awk -v k="${r_rps_raw[klaxon/$doc]}" -v n="${r_rps_raw[nginx/$doc]}" 'BEGIN { printf "%.3f", (n > 0 ? int(k / n * 1000) / 1000 : 0) }')"
    check "$doc: Klaxon req/s >= 50 % of nginx's: ${r_rps[klaxon/$doc]} / ${r_rps[nginx/$doc]} = $ratio" \
      "${r_rps_raw[klaxon/$doc]} >= 0.5 * ${r_rps_raw[nginx/$doc]}"
  done
  for doc in "${DOCS[@]}"; do
    p99="${r_p99[klaxon/$doc]}"
    check "$doc: Klaxon p99 < 5 ms at $CONNECTIONS connections: $p99 ms" "${r_p99_us[klaxon/$doc]} < 5000"
  done
  for doc in "${DOCS[@]}"; do
    q=$((q_statements[$doc] + q_writes[$doc]))
    per="$(awk -v q="$q" -v r="${q_requests[$doc]}" 'BEGIN { printf "%.5f", (r > 0 ? q / r : 1) }')"
    check "$doc: no database query per public request: $q statements for ${q_requests[$doc]} requests = $per per request (background only when < 0.001)" \
      "$q < 0.001 * ${q_requests[$doc]} && ${q_requests[$doc]} > 0"
  done
  for doc in "${DOCS[@]}"; do
    for system in klaxon nginx; do
      [ "${r_errors[$system/$doc]}" = 0 ] || echo "NOTE  $system $doc: ${r_errors[$system/$doc]} non-2xx answers or socket errors in the measured run"
    done
  done
  [ "$idle_statements" -gt 0 ] || echo "NOTE  no statement was logged while idle: the statement count may not be working"
}
print_summary | tee "$results/summary.txt"
echo
echo "Raw wrk output, logs and this summary: ${results#"$repo"/}"
