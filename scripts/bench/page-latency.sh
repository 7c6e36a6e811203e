#!/usr/bin/env bash
# Page latency: from a PagerDuty Events v2 trigger to the first notification received by a local
# webhook receiver, over INCIDENTS incidents, on SQLite and on PostgreSQL.
#
# Two runs per backend: "paced", triggers at RATE per second (a busy day: pages measure the
# engine's latency, not a queue), and "burst", all INCIDENTS as fast as CONCURRENCY senders can
# send them (a storm: the latency then includes the queue the engine works through).
#
# For each backend it starts `klaxon serve` (release build, defaults, engine on), creates through
# the API a webhook contact method pointing at a receiver on loopback, a notification rule (at
# once, high urgency), a one-level escalation policy and a service with an Events v2 integration.
# A Python driver then sends INCIDENTS triggers (distinct dedup keys, severity critical, at most
# CONCURRENCY in flight) and the receiver notes when each page arrives; the latency of an incident
# is arrival time minus the time its trigger was sent (both on this machine's monotonic clock).
# It prints p50, p90, p99 and max, and checks that every incident paged exactly once.
#
# Target (issue 4): p99 under 250 ms. Installs python3, curl and postgresql with apt when missing.
# Settings: INCIDENTS (default 1000), RATE (paced run, per second, default 50), CONCURRENCY
# (default 4), KLAXON_BIN (skip the build).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"
INCIDENTS="${INCIDENTS:-1000}"
CONCURRENCY="${CONCURRENCY:-4}"
RATE="${RATE:-50}"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/bench/page-latency.sh: %s\n' "$*" >&2; exit 1; }

pg_bin=""
find_pg() { for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done; return 0; }
find_pg
need=()
[ -n "$pg_bin" ] || need+=(postgresql)
for tool in curl python3; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    die "missing packages: ${need[*]}; install them and run again"
  fi
  find_pg
fi

if [ -n "${KLAXON_BIN:-}" ]; then
  bin="$(readlink -f "$KLAXON_BIN")"
else
  say "building klaxon (release)"
  cargo build --release -p klaxon >&2
  bin="$(readlink -f "${CARGO_TARGET_DIR:-target}")/release/klaxon" # where cargo put it
fi

work="$(mktemp -d /tmp/klaxon-page.XXXXXX)"
chmod 755 "$work"
results="$repo/target/bench/page-latency-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
server_pid=""
pg_data=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_data" ]; then as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true; fi
  for f in "$work"/*/server.log; do [ -f "$f" ] && cp "$f" "$results/$(basename "$(dirname "$f")").log"; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cat >"$work/drive.py" <<'PY'
"""Receiver and driver in one process: a threaded HTTP server records page arrivals; worker
threads send triggers and record when each was sent."""
import json, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

base, token, password, n, conc, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rate, tag = float(sys.argv[7]), sys.argv[8]  # rate 0: as fast as the senders go
arrived, sent, lock = {}, {}, threading.Lock()
counts = {}

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        t = time.monotonic()
        msg = json.loads(body)
        data = msg.get("data", {})
        # A storm arrives bundled: one message carrying several pages.
        if msg.get("type") == "incident.page.bundle":
            titles = [i["incident"]["title"] for i in data.get("items", [])]
        else:
            titles = [data.get("incident", {}).get("title", "")]
        with lock:
            for title in titles:
                counts[title] = counts.get(title, 0) + 1
                arrived.setdefault(title, t)
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass

class Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default 5 drops SYNs under a burst: seconds of retransmits

srv = Server(("127.0.0.1", port), Hook)
threading.Thread(target=srv.serve_forever, daemon=True).start()

def api(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": "Bearer " + token, "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")

me = api("GET", "/api/v1/me")["user"]["id"]
have = api("GET", "/api/v1/services")["items"]
if have:  # the second run on this server: reuse the setup
    key = open(f"/tmp/klaxon-page-key-{port}").read()
else:
  m = api("POST", f"/api/v1/users/{me}/contact-methods", {"kind": "webhook", "label": "bench", "address": f"http://127.0.0.1:{port}/page", "password": password})
  api("POST", f"/api/v1/users/{me}/notification-rules", {"contact_method_id": m["id"], "delay_minutes": 0})
  p = api("POST", "/api/v1/escalation-policies", {"name": "bench", "levels": [{"delay_minutes": 30, "targets": [{"type": "user", "id": me}]}]})
  s = api("POST", "/api/v1/services", {"name": "bench", "escalation_policy_id": p["id"]})
  key = api("POST", f"/api/v1/services/{s['id']}/integrations", {"name": "bench", "kind": "events_v2", "rate_limit_per_minute": 0})["key"]
  open(f"/tmp/klaxon-page-key-{port}", "w").write(key)

next_i = iter(range(n))
t_start = time.monotonic()
def worker():
    while True:
        with lock:
            i = next(next_i, None)
        if i is None:
            return
        if rate > 0:  # paced: trigger i goes out at t_start + i / rate
            delay = t_start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        title = f"bench page {tag} {i}"
        body = json.dumps({"routing_key": key, "event_action": "trigger", "dedup_key": f"page-{tag}-{i}",
                           "payload": {"summary": title, "source": "bench", "severity": "critical"}}).encode()
        req = urllib.request.Request(base + "/v2/enqueue", data=body, headers={"content-type": "application/json"})
        t = time.monotonic()
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 202, r.status
        with lock:
            sent[title] = t

started = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads: t.start()
for t in threads: t.join()
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    with lock:
        if len(arrived) >= n: break
    time.sleep(0.05)
time.sleep(1.0)  # any duplicate page would arrive now
elapsed = time.monotonic() - started
lat = sorted((arrived[k] - sent[k]) * 1000 for k in sent if k in arrived)
missing = n - len(lat)
doubled = sum(1 for c in counts.values() if c > 1)
def pct(q): return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
print(f"RESULT run={tag} incidents={n} paged={len(lat)} missing={missing} doubled={doubled} "
      f"p50_ms={pct(0.50):.1f} p90_ms={pct(0.90):.1f} p99_ms={pct(0.99):.1f} max_ms={(lat[-1] if lat else float('nan')):.1f} "
      f"elapsed_s={elapsed:.1f}")
PY

run() {
  local name="$1" db_url="$2" dir="$work/$1" port hook
  mkdir -p "$dir"
  port="$(free_port)"; hook="$(free_port)"
  (
    cd "$dir"
    for v in $(env | sed -n 's/^\(KLAXON_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
    export KLAXON_LOG=warn
    export KLAXON_OUTGOING_ALLOW=127.0.0.1 # the receiver is on loopback
    [ -n "$db_url" ] && export KLAXON_DATABASE_URL="$db_url"
    exec "$bin" serve --listen "127.0.0.1:$port"
  ) >"$dir/server.out" 2>"$dir/server.log" &
  server_pid=$!
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  local token password
  token="$(sed -n 's/^ *API token *//p' "$dir/server.out" | head -n1)"
  password="$(sed -n 's/^ *password *//p' "$dir/server.out" | head -n1)"
  [ -n "$token" ] || die "$name: no first-run token"
  local tag rate line
  for tag in paced burst; do
    rate=0; [ "$tag" = paced ] && rate="$RATE"
    say "$name ($tag): $INCIDENTS incidents, $CONCURRENCY senders, rate ${rate}/s (0: unpaced)"
    line="$(python3 "$work/drive.py" "http://127.0.0.1:$port" "$token" "$password" "$INCIDENTS" "$CONCURRENCY" "$hook" "$rate" "$tag" | tee -a "$results/$name.txt")"
    say "$name: $line"
    printf '%s %s\n' "$name" "$line" >>"$work/summary"
  done
  rm -f "/tmp/klaxon-page-key-$hook"
  kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

run klaxon-sqlite ""

pg_port="$(free_port)"
mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
as_pg "$pg_bin/initdb" -D "$work/pg/data" -U klaxon --auth=trust -E UTF8 >/dev/null
pg_data="$work/pg/data"
as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$work/pg/log" -w -t 60 \
  -o "-h 127.0.0.1 -p $pg_port -k $work/pg -c fsync=on -c synchronous_commit=on" start >/dev/null
run klaxon-postgres "postgres://klaxon@127.0.0.1:$pg_port/postgres"

echo
echo "Page latency (trigger sent -> first page received), $INCIDENTS incidents per run, $(nproc) cores:"
while read -r name rest; do
  p99="$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$rest")"
  lost="$(sed -n 's/.* missing=\([0-9]*\).*/\1/p' <<<"$rest")"
  twice="$(sed -n 's/.* doubled=\([0-9]*\).*/\1/p' <<<"$rest")"
  # Every incident paged, none twice, and the p99 under the target.
  verdict="$(awk -v p="${p99:-x}" -v m="$lost" -v d="$twice" 'BEGIN { print (p != "x" && p + 0 < 250 && m == 0 && d == 0) ? "PASS" : "FAIL" }')"
  echo "  $name: $rest  [$verdict p99 < 250 ms]"
done <"$work/summary" | tee "$results/summary.txt"
