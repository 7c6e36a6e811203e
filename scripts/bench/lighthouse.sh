#!/usr/bin/env bash
# Lighthouse accessibility and performance scores for the pages a responder lives in: the
# dashboard, an incident with INCIDENT_ENTRIES timeline entries, and a schedule page.
#
# Starts `klaxon serve` (release build) on SQLite in a temporary directory, fills it through the
# API (a three-layer schedule, a policy, a service, OPEN_INCIDENTS open incidents, one incident
# with INCIDENT_ENTRIES timeline entries: notes, status changes and roles), signs in through the
# login form, and runs Lighthouse (npm `lighthouse`, pinned to 12.2.3 for Node 20; installed into
# ~/.cache/klaxon/lighthouse) with Debian's Chromium against each page, RUNS times, with
# Lighthouse's default mobile emulation and throttling. Prints the median score of each and
# checks the targets (issue 13): accessibility >= 95, performance >= 90. A missed target is
# reported, not an error; the script fails only when it cannot run.
#
# There is no peer figure: no other incident tool's UI runs offline here. The reports (JSON) are
# kept in target/bench/lighthouse-<time>/.
#
# Settings (environment): INCIDENT_ENTRIES (default 500), OPEN_INCIDENTS (default 25), RUNS
# (default 3), KLAXON_BIN (skip the build and use this binary), CHROME_PATH (default chromium).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"

INCIDENT_ENTRIES="${INCIDENT_ENTRIES:-500}"
OPEN_INCIDENTS="${OPEN_INCIDENTS:-25}"
RUNS="${RUNS:-3}"
LIGHTHOUSE_VERSION=12.2.3

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/bench/lighthouse.sh: %s\n' "$*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------------------
need_pkgs=()
for tool in curl python3 npm chromium; do command -v "$tool" >/dev/null 2>&1 || need_pkgs+=("$tool"); done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null \
      || die "apt-get install ${need_pkgs[*]} failed"
  else
    die "missing packages: ${need_pkgs[*]}. Install them (sudo apt-get install ${need_pkgs[*]}) and run again."
  fi
fi
lh_dir="$HOME/.cache/klaxon/lighthouse"
if [ "$(node -p "require('$lh_dir/node_modules/lighthouse/package.json').version" 2>/dev/null)" != "$LIGHTHOUSE_VERSION" ]; then
  say "installing lighthouse $LIGHTHOUSE_VERSION into $lh_dir"
  mkdir -p "$lh_dir"
  npm install --prefix "$lh_dir" --no-audit --no-fund --silent "lighthouse@$LIGHTHOUSE_VERSION" >/dev/null \
    || die "npm could not install lighthouse@$LIGHTHOUSE_VERSION"
fi
lighthouse="$lh_dir/node_modules/.bin/lighthouse"
export CHROME_PATH="${CHROME_PATH:-$(command -v chromium)}"

# --- build ---------------------------------------------------------------------------------------
if [ -n "${KLAXON_BIN:-}" ]; then
  bin="$(readlink -f "$KLAXON_BIN" || echo "$KLAXON_BIN")"
else
  say "building klaxon (release)"
  cargo build --release -p klaxon >&2
  bin="$(readlink -f "${CARGO_TARGET_DIR:-target}")/release/klaxon" # where cargo put it
fi
[ -x "$bin" ] || die "no klaxon binary at $bin"

# --- work space and clean-up ---------------------------------------------------------------------
work="$(mktemp -d /tmp/klaxon-lighthouse.XXXXXX)"
results="$repo/target/bench/lighthouse-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
server_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [ -f "$work/server.log" ] && cp "$work/server.log" "$results/" 2>/dev/null
  rm -rf "$work"
  [ "$rc" = 0 ] || printf 'scripts/bench/lighthouse.sh: failed (exit %s); logs in %s\n' "$rc" "$results" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
(
  cd "$work"
  for v in $(env | sed -n 's/^\(KLAXON_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
  export KLAXON_LOG=warn
  export KLAXON_DATABASE_URL="sqlite://$work/klaxon.db"
  exec "$bin" serve --listen "127.0.0.1:$port"
) >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null --max-time 1 "$base/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "Klaxon exited"; }
  sleep 0.1
done
email="$(sed -n 's/^ *e-mail *//p' "$work/server.out" | head -n1)"
password="$(sed -n 's/^ *password *//p' "$work/server.out" | head -n1)"
token="$(sed -n 's/^ *API token *//p' "$work/server.out" | head -n1)"
[ -n "$token" ] && [ -n "$password" ] || { cat "$work/server.out" >&2; die "no first-run admin"; }

# --- the data set, through the API ---------------------------------------------------------------
say "filling: a schedule, $OPEN_INCIDENTS open incidents, one with $INCIDENT_ENTRIES timeline entries"
read -r schedule_id incident_id < <(python3 - "$base" "$token" "$OPEN_INCIDENTS" "$INCIDENT_ENTRIES" <<'PY'
import http.client, json, sys, urllib.parse
base, token, n_open, n_entries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
def call(method, path, body=None):
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse(); raw = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {raw[:300]!r}")
    return json.loads(raw) if raw else None
people = [call("POST", "/api/v1/users", {"email": f"p{i}@example.com", "name": f"Person {i}",
          "role": "responder", "password": "correct horse battery staple"})["id"] for i in range(8)]
sched = call("POST", "/api/v1/schedules", {"name": "Payments primary", "time_zone": "Europe/Berlin", "layers": [
    {"name": "Weekly", "start": "2026-11-02T09:00", "users": people[:4], "turn": {"count": 1, "unit": "weeks"}},
    {"name": "Business hours", "start": "2026-11-02T09:00", "users": people[4:6], "turn": {"count": 1, "unit": "days"},
     "restrictions": [{"type": "daily", "start": "09:00", "duration_minutes": 480}]},
    {"name": "Follow the sun", "start": "2026-11-02T00:00", "users": people[5:8], "turn": {"count": 8, "unit": "hours"}}]})
pol = call("POST", "/api/v1/escalation-policies", {"name": "Payments", "repeat": 1, "levels": [
    {"delay_minutes": 5, "targets": [{"type": "schedule", "id": sched["id"]}]},
    {"delay_minutes": 15, "targets": [{"type": "user", "id": people[0]}]}]})
svc = call("POST", "/api/v1/services", {"name": "Payments API", "escalation_policy_id": pol["id"]})
sevs = ["SEV1", "SEV2", "SEV3", "SEV4"]
for i in range(n_open):
    call("POST", "/api/v1/incidents", {"title": f"Card payments failing in region {i}",
         "severity": sevs[i % 4], "service_id": svc["id"]})
big = call("POST", "/api/v1/incidents", {"title": "Checkout errors for 3-D Secure cards",
           "severity": "SEV1", "service_id": svc["id"], "description": "Customers see a generic error."})
path = f"/api/v1/incidents/{big['id']}"
made = 0
while made < n_entries:
    call("POST", path + "/notes", {"text": f"Update {made}: checked the processor, error rate {made % 7}.{made % 10} %."})
    made += 1
print(sched["id"], big["id"])
PY
)

# --- sign in through the form --------------------------------------------------------------------
jar="$work/cookies"
login_html="$(curl -fsS -c "$jar" "$base/login")"
csrf="$(printf '%s' "$login_html" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -n1)"
curl -fsS -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=$email" \
  --data-urlencode "password=$password" --data-urlencode "csrf=$csrf" "$base/login"
session="$(awk '$6 == "klaxon_session" {print $7}' "$jar")"
[ -n "$session" ] || die "could not sign in"
# The person has chosen a zone, as after the first login.
curl -fsS -o /dev/null -X PATCH -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data '{"time_zone":"Europe/Berlin"}' "$base/api/v1/users/$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/me" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')"

# --- Lighthouse ----------------------------------------------------------------------------------
headers="{\"Cookie\": \"klaxon_session=$session\"}"
status=0
printf '\n%-28s %14s %12s   %s\n' "page" "accessibility" "performance" "(median of $RUNS runs; targets 95 and 90)"
for page in "dashboard:/" "incident:/incidents/$incident_id" "schedule:/schedules/$schedule_id"; do
  name="${page%%:*}"; path="${page#*:}"
  a_scores=(); p_scores=()
  for run in $(seq 1 "$RUNS"); do
    out="$results/$name-$run.json"
    "$lighthouse" "$base$path" --quiet --output=json --output-path="$out" \
      --only-categories=accessibility,performance --extra-headers="$headers" \
      --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-background-networking" \
      >/dev/null 2>"$results/$name-$run.log" || die "lighthouse failed on $path (see $results/$name-$run.log)"
    read -r a p < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); c=r["categories"]; print(round(c["accessibility"]["score"]*100), round(c["performance"]["score"]*100))' "$out")
    a_scores+=("$a"); p_scores+=("$p")
  done
  a_med="$(printf '%s\n' "${a_scores[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")"
  p_med="$(printf '%s\n' "${p_scores[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")"
  verdict="PASS"
  if [ "$a_med" -lt 95 ] || [ "$p_med" -lt 90 ]; then verdict="MISS"; fi
  printf '%-28s %14s %12s   %s (runs: a11y %s, perf %s)\n' "$name ($path)" "$a_med" "$p_med" "$verdict" \
    "${a_scores[*]}" "${p_scores[*]}"
done
printf '\nreports: %s\n' "$results"
exit "$status"
