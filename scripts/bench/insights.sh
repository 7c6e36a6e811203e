#!/usr/bin/env bash
# Insights over a year of incidents (issue 15): the three reports over 28, 90 and 366 days on
# SQLite and on PostgreSQL, against the target of p99 under 500 ms.
#
# For each backend it starts `klaxon serve` (release build, defaults) on an empty database, and
# creates through the API SERVICES services, POLICIES escalation policies, USERS users in six
# time zones and SCHEDULES schedules (so the rows refer to real, valid settings). Then it stops
# Klaxon and loads the bulk straight into the database (the API would take hours; PostgreSQL
# loads with triggers off, as a restore would, then computes the insights roll-up as its
# migration does; SQLite's load goes through them): INCIDENTS
# incidents spread over the past year (severities, categories, services, milestones, a few
# invalid and drills, the recent ones still open), ALERTS alerts grouped into them (a long tail:
# most incidents have a few, storms have hundreds), about as many events (the incidents' own,
# and each resolved alert's alert.resolved, by the system or by a person) and the pages they
# raised (notifications, some stakeholder updates and cancelled ones). Klaxon starts again (its
# migrations bring the data up to date) and a Python client times ROUNDS sequential requests
# of each kind, after one warm-up request:
#   metrics      GET /api/v1/insights/incidents/metrics, without and with each group_by, + CSV
#   alert-noise  GET /api/v1/insights/alert-noise
#   oncall-load  GET /api/v1/insights/oncall-load
# each over the last 28, 90 and 366 days. The peer, from the same run: the plain recomputation,
# the straightforward SQL over the raw rows (every incident of the period with a count of its
# alerts and of its self-resolved alerts by correlated subqueries over alerts and events; the
# read insights did before the roll-up), timed in the database alone (Python's sqlite3 module;
# psql's \timing), so it costs less than a full report would. Its totals are checked against
# the API's alert-noise figures: they must be equal.
# It prints p50, p99 and max per kind and backend, and PASS/FAIL per kind for p99 under 500 ms.
# A missed target is reported, not an error; the script fails only when it cannot run.
#
# Installs python3, curl and postgresql with apt-get when they are missing and it can.
# Everything it starts (Klaxon, a throwaway PostgreSQL cluster) is stopped and its temporary
# directory removed on exit, also on failure or Ctrl-C; each backend's data set is removed once
# measured (about 1.5 GB each at the defaults). Server logs and the summary are kept in
# $CARGO_TARGET_DIR/bench/insights-<time>/ (target/ by default).
#
# Settings (environment): INCIDENTS (default 100000), ALERTS (default 2000000), SERVICES
# (default 40), POLICIES (default 8), USERS (default 30), SCHEDULES (default 6), ROUNDS (default
# 20), PEER_ROUNDS (the peer's, default 5: it is slow), BACKENDS (default "sqlite postgres"),
# KLAXON_BIN (skip the build and use this binary), KEEP=1 (keep the work directory, with the
# SQLite data set, its server.out and measure.py, to time another build on the same data).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac

INCIDENTS="${INCIDENTS:-100000}"
ALERTS="${ALERTS:-2000000}"
SERVICES="${SERVICES:-40}"
POLICIES="${POLICIES:-8}"
USERS="${USERS:-30}"
SCHEDULES="${SCHEDULES:-6}"
ROUNDS="${ROUNDS:-20}"
PEER_ROUNDS="${PEER_ROUNDS:-5}"
BACKENDS="${BACKENDS:-sqlite postgres}"
TARGET_P99_MS=500

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/bench/insights.sh: %s\n' "$*" >&2; exit 1; }

# --- system packages ---------------------------------------------------------------------------
pg_bin=""
find_pg() { for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done; return 0; }
find_pg
need_pkgs=()
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
[ -n "$pg_bin" ] || die "PostgreSQL server binaries not found; install postgresql"
psql="$pg_bin/psql"
[ -x "$psql" ] || psql="$(command -v psql)" || die "psql not found; install postgresql-client"

# --- build -------------------------------------------------------------------------------------
if [ -n "${KLAXON_BIN:-}" ]; then
  bin="$(readlink -f "$KLAXON_BIN" || echo "$KLAXON_BIN")" # Klaxon runs in another directory
else
  say "building klaxon (release)"
  cargo build --release -p klaxon >&2
  bin="$target_dir/release/klaxon"
fi
[ -x "$bin" ] || die "no klaxon binary at $bin"

# --- work space and clean-up -------------------------------------------------------------------
work="$(mktemp -d /tmp/klaxon-insights.XXXXXX)"
chmod 755 "$work"
results="$target_dir/bench/insights-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
server_pid=""
pg_data=""

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
  stop_server
  stop_pg
  # Keep the logs with the results (not server.out: it holds the first-run admin password).
  for f in "$work"/*/*.log; do
    [ -f "$f" ] && cp "$f" "$results/$(basename "$(dirname "$f")")-$(basename "$f")" 2>/dev/null
  done
  if [ "${KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
  [ "$rc" = 0 ] || printf 'scripts/bench/insights.sh: failed (exit %s); logs in %s\n' "$rc" "$results" >&2
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

# --- the settings, through the API -------------------------------------------------------------
cat >"$work/populate.py" <<'PY'
"""Creates users (six time zones), schedules, escalation policies and services through Klaxon's
API. Writes services.txt (`id<TAB>name`) and users.txt (`id`) into the directory given."""
import http.client
import json
import os
import sys
import urllib.parse

base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
n_services, n_policies, n_users, n_schedules = map(int, sys.argv[4:8])
url = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "UTC",
         "America/Los_Angeles"]


def call(method, path, body=None):
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    if resp.status >= 300:
        sys.exit(f"{method} {path}: {resp.status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


users = []
for i in range(n_users):
    u = call("POST", "/api/v1/users", {
        "email": f"responder{i}@bench.example", "name": f"Responder {i:02d}",
        "role": "responder", "password": "correct horse battery staple"})["id"]
    call("PATCH", f"/api/v1/users/{u}", {"time_zone": ZONES[i % len(ZONES)]})
    users.append(u)
schedules = []
for i in range(n_schedules):
    team = [users[(i * 5 + k) % n_users] for k in range(5)]
    schedules.append(call("POST", "/api/v1/schedules", {
        "name": f"team {i} primary", "time_zone": ZONES[i % len(ZONES)], "layers": [
            {"name": "weekly", "start": "2025-01-06T09:00", "users": team[:4],
             "turn": {"count": 1, "unit": "weeks"}},
            {"name": "business hours", "start": "2025-01-06T09:00", "users": team[3:],
             "turn": {"count": 1, "unit": "days"},
             "restrictions": [{"type": "daily", "start": "09:00", "duration_minutes": 480}]}]})["id"])
policies = [call("POST", "/api/v1/escalation-policies", {
    "name": f"team {i}", "repeat": 1, "levels": [
        {"delay_minutes": 5, "targets": [{"type": "schedule", "id": schedules[i % n_schedules]}]},
        {"delay_minutes": 15, "targets": [{"type": "user", "id": users[i % n_users]}]}]})["id"]
    for i in range(n_policies)]
with open(os.path.join(out, "services.txt"), "w") as f:
    for i in range(n_services):
        body = {"name": f"service {i:03d}"}
        if i % 10 != 9:  # a few services answer to nobody: the team "(none)"
            body["escalation_policy_id"] = policies[i % n_policies]
        f.write(call("POST", "/api/v1/services", body)["id"] + f"\tservice {i:03d}\n")
with open(os.path.join(out, "users.txt"), "w") as f:
    f.write("\n".join(users) + "\n")
PY

# --- the bulk, straight into the database ------------------------------------------------------
cat >"$work/generate.py" <<'PY'
"""Bulk data set for the insights bench: INCIDENTS incidents over the year before NOW, ALERTS
alerts grouped into them, about as many events, and the pages (notifications) they raised,
for the services, policies and users already created through the API (read from the database).

  generate.py sqlite PATH  ...   inserts with sqlite3 in one transaction
  generate.py csv DIR      ...   writes incidents.csv, alerts.csv, events.csv,
                                 notifications.csv for COPY (PostgreSQL)
Arguments after the target: INCIDENTS ALERTS NOW_MS SERVICES_FILE USERS_FILE, the last two
one `id<TAB>policy` / `id` a line. Deterministic (seeded)."""
import csv
import os
import random
import sys

kind, target = sys.argv[1], sys.argv[2]
n_inc, n_alerts, now = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
services = [l.split("\t")[0] for l in open(sys.argv[6]).read().split("\n") if l.strip()]
users = [l.strip() for l in open(sys.argv[7]) if l.strip()]
rng = random.Random(15)
YEAR = 365 * 86_400_000
MIN = 60_000
SEVS = ["SEV1", "SEV2", "SEV3", "SEV3", "SEV4", "SEV4", None]
CATS = ["database", "network", "deploy", "capacity", "dependency", "security", None]
URG = {"SEV1": "high", "SEV2": "high", "SEV3": "medium", "SEV4": "low", None: "low"}
ALERT_SEV = ["critical", "error", "warning", "info"]


def uid():
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def user_actor():
    return "user:" + rng.choice(users)


def opt(v):
    return "" if v is None else v


# Alerts per incident: most have a few, some storms have many; scaled to the total.
weights = [min(rng.paretovariate(1.3), 200.0) for _ in range(n_inc)]
scale = n_alerts / sum(weights)
counts = [max(0, int(w * scale)) for w in weights]
short = n_alerts - sum(counts)
for k in range(abs(short)):
    i = k % n_inc
    counts[i] = max(0, counts[i] + (1 if short > 0 else -1))


def gen():
    """Yields (table, row) in insertion order."""
    for n in range(n_inc):
        iid = uid()
        created = now - YEAR + (YEAR * n) // n_inc + rng.randrange(60_000)
        sev = rng.choice(SEVS)
        cat = rng.choice(CATS)
        svc = rng.choice(services) if rng.random() < 0.95 else None
        drill = rng.random() < 0.01
        impact = created - rng.randrange(1, 30) * MIN if rng.random() < 0.6 else None
        detected = created if impact is None or rng.random() < 0.7 else impact + rng.randrange(0, (created - impact) // MIN + 1) * MIN
        ack = created + rng.randrange(0, 40) * MIN if rng.random() < 0.8 else None
        age = now - created
        mitigated = created + rng.randrange(10, 120) * MIN if rng.random() < 0.5 else None
        resolved = created + rng.randrange(20, 600) * MIN if age > 2 * 86_400_000 or rng.random() < 0.5 else None
        if resolved is not None and mitigated is not None and mitigated > resolved:
            mitigated = resolved
        if resolved is not None and ack is not None and ack > resolved:
            ack = resolved
        if rng.random() < 0.02 and resolved is not None:
            resolved = created - MIN  # an edited milestone before its start: "invalid"
        closed = resolved + rng.randrange(60, 6000) * MIN if resolved is not None and rng.random() < 0.6 else None
        if closed is not None and closed > now:
            closed = None
        status = ("closed" if closed else "resolved" if resolved else "mitigated" if mitigated
                  else "acknowledged" if ack else "triggered")
        na = counts[n]
        by_alert = na > 0 and rng.random() < 0.8
        yield "incidents", (iid, n + 1, f"incident {n + 1}", status, URG[sev], sev, cat, svc,
                            na, int(by_alert), created, impact, detected, ack, mitigated,
                            resolved, closed, int(drill))
        who = "system" if by_alert else user_actor()
        yield "events", ("incident", iid, created, who,
                         "incident.triggered" if by_alert else "incident.declared")
        for at, k in ((ack, "incident.acknowledged"), (mitigated, "incident.mitigated"),
                      (resolved, "incident.resolved"), (closed, "incident.closed")):
            if at is not None:
                yield "events", ("incident", iid, at, user_actor(), k)
        for _ in range(rng.randrange(1, 4)):
            yield "events", ("incident", iid, created + rng.randrange(1, 90) * MIN,
                             user_actor(), "incident.note_added")
        # Pages: one per escalation step reached (a person, maybe by two channels at once).
        steps = 1 if ack is not None and ack - created < 5 * MIN else rng.randrange(1, 4)
        for s in range(steps):
            at = created + s * 5 * MIN
            user = rng.choice(users)
            st = rng.choices(["sent", "failed", "cancelled", "sending"], [90, 3, 6, 1])[0]
            for ch in range(rng.randrange(1, 3)):
                yield "notifications", (uid(), iid, user, "email", f"u{ch}@bench.example",
                                        f"{iid}:{s}:{user}:{ch}", st, at, at,
                                        at + 1000 if st == "sent" else None)
        if rng.random() < 0.2:
            user = rng.choice(users)
            at = created + 30 * MIN
            yield "notifications", (uid(), iid, user, "email", "u@bench.example",
                                    f"update:{iid}:{user}", "sent", at, at, at + 1000)
        asvc = svc or rng.choice(services)
        for a in range(na):
            aid = uid()
            at = created + a * rng.randrange(1, 300) * 1000
            ast = rng.random()
            a_ack = ack if ack is not None and ack >= at and rng.random() < 0.5 else None
            if ast < 0.6:
                a_res = at + rng.randrange(1, 120) * MIN
                status = "resolved"
            else:
                a_res = None
                status = "acknowledged" if a_ack else "triggered"
            if resolved is not None and a_res is None and rng.random() < 0.8:
                a_res, status = resolved, "resolved"
            yield "alerts", (aid, asvc, iid, f"check-{n}-{a}", status, rng.choice(ALERT_SEV),
                             f"alert {a} of incident {n + 1}", rng.randrange(1, 5), at, at,
                             a_ack, a_res)
            if a_res is not None:
                # Its monitor said so (system), or a person resolving the incident did.
                actor = "system" if rng.random() < 0.7 else user_actor()
                yield "events", ("alert", aid, a_res, actor, "alert.resolved")


COLS = {
    "incidents": "id, number, title, status, urgency, severity, category, service_id, "
                 "alert_count, opened_by_alert, created_at, impact_started_at, detected_at, "
                 "acknowledged_at, mitigated_at, resolved_at, closed_at, is_drill",
    "alerts": "id, service_id, incident_id, dedup_key, status, severity, summary, count, "
              "created_at, last_seen_at, acknowledged_at, resolved_at",
    "events": "subject_type, subject_id, at, actor, kind",
    "notifications": "id, incident_id, user_id, kind, address, dedup_key, status, run_at, "
                     "created_at, sent_at",
}
# Columns without a default, the same for every row.
CONST = {
    "incidents": ("group_values", "'{}'"),
    "alerts": ("content, in_maintenance", "'{}', FALSE"),
    "events": ("data", "'{}'"),
    "notifications": ("payload", "'{}'"),
}
# What migrations 20261121000025 and 20261121000035 compute from existing rows (PostgreSQL),
# when the binary has them.
ROLLUP = """DO $$ BEGIN IF to_regproc('insight_self_resolved') IS NOT NULL THEN
UPDATE incidents i SET alerts_grouped = f.total, alerts_self_resolved = f.self_resolved
FROM (SELECT a.incident_id, COUNT(*) AS total,
             SUM(insight_self_resolved(a.id, a.status, a.acknowledged_at)) AS self_resolved
      FROM alerts a WHERE a.incident_id IS NOT NULL GROUP BY a.incident_id) f
WHERE i.id = f.incident_id;
END IF;
IF to_regclass('insight_pages') IS NOT NULL THEN
INSERT INTO insight_pages (created_at, user_id, incident_id, notification_id)
SELECT created_at, user_id, incident_id, id FROM notifications
WHERE status IN ('sent', 'sending', 'failed') AND dedup_key NOT LIKE 'update:%'
  AND incident_id IS NOT NULL;
END IF; END $$;
"""
tally = {t: 0 for t in COLS}
if kind == "sqlite":
    import sqlite3

    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    sql = {}
    for t, cols in COLS.items():
        n = cols.count(",") + 1
        extra_cols, extra_vals = CONST[t]
        extra_vals = extra_vals.replace("FALSE", "0")
        sql[t] = (f"INSERT INTO {t} ({cols}, {extra_cols}) VALUES "
                  f"({', '.join('?' * n)}, {extra_vals})")
    batch = {t: [] for t in COLS}
    def flush():
        # Every table, parents first: an alert's trigger counts it on an incident that must
        # already be there, an event's on its alert.
        for t in COLS:
            db.executemany(sql[t], batch[t])
            batch[t].clear()
        # A commit per batch lets the WAL be checkpointed: one transaction would grow it to
        # the size of the database.
        db.execute("COMMIT")
        db.execute("BEGIN")

    for t, row in gen():
        batch[t].append(row)
        tally[t] += 1
        if len(batch[t]) >= 50_000:
            flush()
    flush()
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
else:
    os.makedirs(target, exist_ok=True)
    files = {t: open(os.path.join(target, t + ".csv"), "w", newline="") for t in COLS}
    writers = {t: csv.writer(f) for t, f in files.items()}
    # The constant columns written out too, so COPY fills the tables themselves (a staging
    # table would take twice the disk).
    consts = {t: [v.strip().strip("'").replace("FALSE", "f") for v in CONST[t][1].split(",")]
              for t in COLS}
    for t, row in gen():
        writers[t].writerow(["" if v is None else v for v in row] + consts[t])
        tally[t] += 1
    for f in files.values():
        f.close()
    # The COPY statements, for psql.
    # Triggers are off while loading, as in a restore (row by row they would leave 2,000,000
    # dead incident rows behind, gigabytes); the insights roll-up is then computed as its
    # migration does.
    with open(os.path.join(target, "load.sql"), "w") as out:
        out.write("SET session_replication_role = replica;\n")
        for t, cols in COLS.items():
            out.write(f"\\copy {t} ({cols}, {CONST[t][0]}) FROM '{target}/{t}.csv' "
                      "WITH (FORMAT csv)\n")
        out.write("SET session_replication_role = DEFAULT;\n")
        out.write(ROLLUP)
        out.write("VACUUM ANALYZE;\n")
print(" ".join(f"{t}={n}" for t, n in tally.items()))
PY

# --- the timed reads ---------------------------------------------------------------------------
cat >"$work/measure.py" <<'PY'
"""Times ROUNDS sequential requests of each kind (after one warm-up) on one keep-alive
connection; prints one machine-readable line per kind. Also writes the alert-noise totals per
period (incidents, alerts, self-resolved) to totals.txt, for the check against the peer."""
import http.client
import json
import sys
import time
import urllib.parse

base, token, rounds, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
url = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
kinds = []
for days in (28, 90, 366):
    q = f"from={{from}}&to={{to}}"
    kinds += [(f"metrics {days}d", days, "/api/v1/insights/incidents/metrics", "")]
    for g in ("service", "team", "severity", "category"):
        kinds.append((f"metrics {days}d group_by={g}", days,
                      "/api/v1/insights/incidents/metrics", f"&group_by={g}"))
    kinds += [(f"metrics {days}d csv weeks", days, "/api/v1/insights/incidents/metrics",
               "&format=csv&table=weeks"),
              (f"alert-noise {days}d", days, "/api/v1/insights/alert-noise", ""),
              (f"oncall-load {days}d", days, "/api/v1/insights/oncall-load", "")]
now = int(time.time())
fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
to = fmt(now)
totals = {}


def get(path):
    """The body, or None when the server gave up (408, server.request_timeout_secs): a missed
    target, timed like any other answer."""
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status == 408:
        return None
    if resp.status != 200:
        sys.exit(f"GET {path}: {resp.status} {body[:300]!r}")
    return body


for name, days, path, extra in kinds:
    q = f"{path}?from={fmt(now - days * 86400)}&to={to}{extra}"
    body = get(q)
    if name.startswith("alert-noise") and body is not None:
        r = json.loads(body)
        totals[days] = (r["incidents"], r["alerts"], r["self_resolved_alerts"])
    times, timeouts = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        timeouts += get(q) is None
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
    print(f"KIND {name.replace(' ', '~')} bytes={len(body or b'')} timeouts={timeouts} p50_ms={pct(50):.1f} "
          f"p99_ms={pct(99):.1f} max_ms={times[-1]:.1f}", flush=True)
with open(out, "w") as f:
    for days in (28, 90, 366):
        t = totals.get(days, ("-", "-", "-"))  # none: the API timed out
        start = now - days * 86400
        f.write(f"{days} {fmt(start)} {to} {start * 1000} {now * 1000} {t[0]} {t[1]} {t[2]}\n")
PY

# The peer: the plain recomputation over the raw rows, in the database alone. One SQL for both
# (the read insights made before the roll-up); $1/$2 are the period in epoch milliseconds.
plain_sql="SELECT i.*, s.escalation_policy_id AS policy_id,
       (SELECT COUNT(*) FROM alerts a WHERE a.incident_id = i.id) AS plain_alerts,
       (SELECT COUNT(*) FROM alerts a
         WHERE a.incident_id = i.id AND a.status = 'resolved' AND a.acknowledged_at IS NULL
           AND EXISTS (SELECT 1 FROM events e
                        WHERE e.subject_type = 'alert' AND e.subject_id = CAST(a.id AS TEXT)
                          AND e.kind = 'alert.resolved' AND e.actor = 'system'))
       AS plain_self_resolved
FROM incidents i LEFT JOIN services s ON s.id = i.service_id
WHERE i.created_at >= \$1 AND i.created_at < \$2 AND NOT i.is_drill
ORDER BY i.created_at, i.number"
export PLAIN_SQL="$plain_sql"

cat >"$work/plain_sqlite.py" <<'PY'
"""Times the plain recomputation ROUNDS times per period on SQLite (fetching every row) and
prints its totals; arguments: database, rounds, totals.txt."""
import os
import sqlite3
import sys
import time

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
sql = os.environ["PLAIN_SQL"].replace("$1", "?1").replace("$2", "?2")
for line in open(sys.argv[3]):
    days, _, _, a, b, *_ = line.split()
    args = (int(a), int(b))
    rows = db.execute(sql, args).fetchall()
    times = []
    for _ in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        rows = db.execute(sql, args).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
    print(f"PLAIN {days} incidents={len(rows)} alerts={sum(r[-2] for r in rows)} "
          f"self_resolved={sum(r[-1] for r in rows)} p50_ms={pct(50):.1f} "
          f"p99_ms={pct(99):.1f} max_ms={times[-1]:.1f}", flush=True)
PY

# plain_postgres URL TOTALS: the same on PostgreSQL through psql (a prepared statement, rows
# sent to /dev/null, \timing per execution).
plain_postgres() {
  local url="$1" totals="$2" days a b script times n
  while read -r days _ _ a b _; do
    script="$work/plain-$days.sql"
    {
      echo "PREPARE plain(bigint, bigint) AS $plain_sql;"
      echo "\\timing on"
      echo "\\o /dev/null"
      for _ in $(seq 0 "$PEER_ROUNDS"); do echo "EXECUTE plain($a, $b);"; done
    } >"$script"
    times="$("$psql" "$url" -X -q -v ON_ERROR_STOP=1 -f "$script" </dev/null | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n +2)"
    n="$("$psql" "$url" -X -q -At -F ' ' -v ON_ERROR_STOP=1 -c "SELECT COUNT(*), SUM(plain_alerts), SUM(plain_self_resolved) FROM ($(sed "s/\\\$1/$a/; s/\\\$2/$b/" <<<"$plain_sql")) q")"
    python3 - "$days" "$n" $times <<'PY'
import sys
days, n, times = sys.argv[1], sys.argv[2].split(), sorted(float(t) for t in sys.argv[3:])
pct = lambda p: times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
print(f"PLAIN {days} incidents={n[0]} alerts={n[1]} self_resolved={n[2]} p50_ms={pct(50):.1f} "
      f"p99_ms={pct(99):.1f} max_ms={times[-1]:.1f}")
PY
  done <"$totals"
}

rows=()
verdicts=()
checks=()

# start_klaxon NAME DIR PORT DATABASE-URL (empty: SQLite in DIR)
start_klaxon() {
  local name="$1" dir="$2" port="$3" db_url="$4"
  (
    cd "$dir"
    # Only the settings named here: no klaxon.toml, no KLAXON_* from the caller's environment.
    for v in $(env | sed -n 's/^\(KLAXON_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
    unset RUST_LOG
    export KLAXON_LOG=warn
    [ -n "$db_url" ] && export KLAXON_DATABASE_URL="$db_url"
    exec "$bin" serve --listen "127.0.0.1:$port"
  ) >>"$dir/server.out" 2>>"$dir/server.log" &
  server_pid=$!
  # The first start after the load runs the migrations over the whole data set.
  wait_http "http://127.0.0.1:$port/readyz" "$server_pid" 1800 \
    || { cat "$dir/server.log" >&2; die "$name: Klaxon did not become ready"; }
}

# bench BACKEND DATABASE-URL (empty: SQLite in the temp dir)
bench() {
  local name="$1" db_url="$2"
  local dir="$work/$name" port base token t0 line
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chmod 755 "$dir"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  say "$name: starting Klaxon on $base"
  start_klaxon "$name" "$dir" "$port" "$db_url"
  token="$(sed -n 's/^ *API token *//p' "$dir/server.out" | head -n1)"
  [ -n "$token" ] || { cat "$dir/server.out" >&2; die "$name: no API token on Klaxon's first run"; }
  say "$name: $USERS users, $SCHEDULES schedules, $POLICIES policies, $SERVICES services through the API"
  python3 "$work/populate.py" "$base" "$token" "$dir" "$SERVICES" "$POLICIES" "$USERS" "$SCHEDULES" \
    || die "$name: could not create the settings"
  stop_server

  say "$name: loading $INCIDENTS incidents and $ALERTS alerts with their events and pages"
  t0="$(date +%s)"
  local gen=(python3 "$work/generate.py")
  local args=("$INCIDENTS" "$ALERTS" "$(($(date +%s) * 1000))" "$dir/services.txt" "$dir/users.txt")
  if [ -z "$db_url" ]; then
    line="$("${gen[@]}" sqlite "$dir/klaxon-data/klaxon.db" "${args[@]}")" || die "$name: load failed"
  else
    line="$("${gen[@]}" csv "$dir/csv" "${args[@]}")" || die "$name: generating failed"
    "$psql" "$db_url" -X -q -v ON_ERROR_STOP=1 -f "$dir/csv/load.sql" </dev/null >/dev/null \
      || die "$name: load failed"
    rm -rf "$dir/csv"
  fi
  say "$name: loaded in $(($(date +%s) - t0)) s: $line"
  echo "$name $line" >>"$results/dataset.txt"

  t0="$(date +%s)"
  start_klaxon "$name" "$dir" "$port" "$db_url"
  say "$name: Klaxon ready again in $(($(date +%s) - t0)) s (migrations included)"
  say "$name: $ROUNDS sequential requests per kind"
  python3 "$work/measure.py" "$base" "$token" "$ROUNDS" "$dir/totals.txt" | tee "$results/$name-api.txt" >&2 \
    || die "$name: the reads failed"
  [ -s "$dir/totals.txt" ] || die "$name: the reads failed"
  stop_server
  say "$name: the peer, the plain recomputation in the database alone"
  if [ -z "$db_url" ]; then
    python3 "$work/plain_sqlite.py" "$dir/klaxon-data/klaxon.db" "$PEER_ROUNDS" "$dir/totals.txt"
  else
    plain_postgres "$db_url" "$dir/totals.txt"
  fi | tee "$results/$name-plain.txt" >&2

  local kind p50 p99 max days frm to a b inc al sr
  field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$line"; }
  while read -r line; do
    kind="$(awk '{ print $2 }' <<<"$line" | tr '~' ' ')"
    p50="$(field p50_ms)" p99="$(field p99_ms)" max="$(field max_ms)"
    [ "$(field timeouts)" = 0 ] || kind="$kind ($(field timeouts) timed out)"
    rows+=("$(printf '%-10s  %-40s  %8s  %8s  %8s' "$name" "$kind" "$p50" "$p99" "$max")")
    verdicts+=("$(awk -v p="$p99" -v t="$TARGET_P99_MS" 'BEGIN { print (p < t) ? "PASS" : "FAIL" }')  $name: $kind: p99 $p99 ms (target < $TARGET_P99_MS ms)")
  done <"$results/$name-api.txt"
  while read -r line; do
    days="$(awk '{ print $2 }' <<<"$line")"
    rows+=("$(printf '%-10s  %-40s  %8s  %8s  %8s' "$name" "peer: plain recomputation ${days}d" "$(field p50_ms)" "$(field p99_ms)" "$(field max_ms)")")
    read -r _ _ _ _ _ inc al sr < <(grep "^$days " "$dir/totals.txt")
    if [ "$inc $al $sr" = "$(field incidents) $(field alerts) $(field self_resolved)" ]; then
      checks+=("equal     $name ${days}d: incidents $inc, alerts $al, self-resolved $sr (API = plain recomputation)")
    else
      checks+=("DIFFERENT $name ${days}d: API incidents $inc, alerts $al, self-resolved $sr; plain $(field incidents) $(field alerts) $(field self_resolved)")
    fi
  done <"$results/$name-plain.txt"
  # The data set is large: gone once measured.
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir/klaxon-data"
}

say "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "klaxon: $("$bin" --version 2>/dev/null || echo "$bin")"
for backend in $BACKENDS; do
  case "$backend" in
    sqlite) bench sqlite "" ;;
    postgres)
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
        -o "-h 127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=100 -c shared_buffers=256MB -c max_wal_size=512MB" \
        start >/dev/null || { cat "$pg_dir/postgres.log" >&2; die "PostgreSQL did not start"; }
      bench postgres "postgres://klaxon@127.0.0.1:$pg_port/postgres"
      stop_pg
      ;;
    *) die "unknown backend $backend (sqlite, postgres)" ;;
  esac
done

{
  echo
  echo "insights: $(cat "$results/dataset.txt" | head -n1 | cut -d' ' -f2-) ($INCIDENTS incidents over a year, $ALERTS alerts)"
  echo "$ROUNDS sequential requests per kind after one warm-up (the peer: $PEER_ROUNDS); periods end now"
  printf '%-10s  %-40s  %8s  %8s  %8s\n' backend kind "p50 ms" "p99 ms" "max ms"
  printf '%s\n' "${rows[@]}"
  echo
  echo "peer: the plain recomputation is the SQL over the raw rows alone (no report computed)"
  printf '%s\n' "${checks[@]}"
  echo
  printf '%s\n' "${verdicts[@]}"
} | tee "$results/summary.txt"
say "results in $results"
