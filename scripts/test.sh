#!/usr/bin/env bash
# Runs every Klaxon test: unit, store contract (SQLite and PostgreSQL), scenario and browser tests.
#
# Starts a throwaway PostgreSQL cluster (initdb in a temporary directory, a free loopback port,
# removed afterwards) unless KLAXON_TEST_PG_URL is set, and installs the Debian packages it needs
# (postgresql, chromium, chromium-driver, prometheus-alertmanager, prometheus) when they are missing and it
# can. Where it cannot, it stops and says what to install. Nothing is skipped silently.
#
# Installs openapi-spec-validator, Schemathesis and feedparser from PyPI into a virtual environment
# (KLAXON_TEST_VENV, default ~/.cache/klaxon/test-venv) when they are missing; the OpenAPI tests
# (crates/klaxon-server/tests/openapi.rs) run them.
#
# Extra arguments go to `cargo nextest run` (or `cargo test` when nextest is absent).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

# --- system packages ---------------------------------------------------------------------------
need_pkgs=()
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
if [ -z "${KLAXON_TEST_PG_URL:-}" ] && [ -z "$pg_bin" ]; then need_pkgs+=(postgresql); fi
# `python3 -m venv` needs Debian's python3-venv (ensurepip) where Python is Debian's own.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_pkgs+=(python3-venv)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
[ -n "${KLAXON_TEST_ALERTMANAGER:-}" ] || command -v prometheus-alertmanager >/dev/null 2>&1 \
  || need_pkgs+=(prometheus-alertmanager)
# The SLO tests query a real Prometheus over a TSDB that promtool builds (both in `prometheus`).
{ [ -n "${KLAXON_TEST_PROMETHEUS:-}" ] && [ -n "${KLAXON_TEST_PROMTOOL:-}" ]; } \
  || { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } \
  || need_pkgs+=(prometheus)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    say "installing ${need_pkgs[*]} with sudo"
    sudo apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    die "missing packages: ${need_pkgs[*]}. Install them (sudo apt-get install ${need_pkgs[*]}) and run again."
  fi
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
fi
export KLAXON_TEST_CHROMIUM="${KLAXON_TEST_CHROMIUM:-$(command -v chromium)}"
export KLAXON_TEST_CHROMEDRIVER="${KLAXON_TEST_CHROMEDRIVER:-$(command -v chromedriver)}"
export KLAXON_TEST_ALERTMANAGER="${KLAXON_TEST_ALERTMANAGER:-$(command -v prometheus-alertmanager)}"
export KLAXON_TEST_PROMETHEUS="${KLAXON_TEST_PROMETHEUS:-$(command -v prometheus)}"
export KLAXON_TEST_PROMTOOL="${KLAXON_TEST_PROMTOOL:-$(command -v promtool)}"

# --- the OpenAPI tools, from PyPI -------------------------------------------------------------
# Pinned, so that a new release's checks do not change what passes; bump them on purpose.
venv="${KLAXON_TEST_VENV:-$HOME/.cache/klaxon/test-venv}"
py_pkgs=(openapi-spec-validator==0.9.0 schemathesis==4.32.5 feedparser==6.0.14)
if ! "$venv/bin/python" -m pip show -q "${py_pkgs[@]%%==*}" >/dev/null 2>&1 \
  || [ "$(cat "$venv/.klaxon-pkgs" 2>/dev/null)" != "${py_pkgs[*]}" ]; then
  say "installing ${py_pkgs[*]} into $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed; install python3-venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${py_pkgs[@]}" \
    || die "pip could not install ${py_pkgs[*]}"
  echo "${py_pkgs[*]}" >"$venv/.klaxon-pkgs"
fi
export KLAXON_TEST_OPENAPI_VALIDATOR="$venv/bin/openapi-spec-validator"
export KLAXON_TEST_SCHEMATHESIS="$venv/bin/schemathesis"
# Status pages' feeds are read back with feedparser (crates/klaxon-server/tests/status_pages.rs).
export KLAXON_TEST_PYTHON="$venv/bin/python"

# --- axe-core, from npm --------------------------------------------------------------------------
# The browser tests inject it into every page (crates/klaxon-server/tests/browser_pages.rs).
axe_dir="${KLAXON_TEST_AXE_DIR:-$HOME/.cache/klaxon/axe}"
axe_version=4.11.0
if [ "$(node -p "require('$axe_dir/node_modules/axe-core/package.json').version" 2>/dev/null)" != "$axe_version" ]; then
  say "installing axe-core $axe_version into $axe_dir"
  mkdir -p "$axe_dir"
  npm install --prefix "$axe_dir" --no-audit --no-fund --silent "axe-core@$axe_version" >/dev/null \
    || die "npm could not install axe-core@$axe_version"
fi
export KLAXON_TEST_AXE="$axe_dir/node_modules/axe-core/axe.min.js"

# --- a throwaway PostgreSQL --------------------------------------------------------------------
pg_dir=""
cleanup() {
  if [ -n "$pg_dir" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT

as_pg() {
  # PostgreSQL refuses to run as root: use the postgres system user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ -z "${KLAXON_TEST_PG_URL:-}" ]; then
  [ -n "$pg_bin" ] || die "PostgreSQL server binaries not found; install postgresql or set KLAXON_TEST_PG_URL"
  pg_dir="$(mktemp -d /tmp/klaxon-pg.XXXXXX)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
  say "starting a throwaway PostgreSQL on 127.0.0.1:$port ($pg_dir)"
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U klaxon --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $pg_dir -c max_connections=300 -c fsync=on -c shared_buffers=64MB" start >/dev/null \
    || { cat "$pg_dir/server.log" >&2; die "PostgreSQL did not start"; }
  export KLAXON_TEST_PG_URL="postgres://klaxon@127.0.0.1:$port/postgres"
fi
say "PostgreSQL tests use ${KLAXON_TEST_PG_URL%%@*}@…"

# The full-disk test (crates/klaxon/tests/full_disk.rs) mounts a small tmpfs; where that is not
# allowed it passes without running, so say so here, where it is seen.
probe="$(mktemp -d /tmp/klaxon-mount.XXXXXX)"
if mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
  umount "$probe"
  say "the full-disk test runs (tmpfs can be mounted)"
else
  say "WARNING: the full-disk test will be SKIPPED: this user cannot mount a tmpfs (run as root)"
fi
rmdir "$probe"

# --- the tests ---------------------------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast "$@"
else
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi
