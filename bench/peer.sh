#!/usr/bin/env bash
# The portal beside django-helpdesk and a bare Flask floor (issue 21, item 5): runs the peer
# harness of ../shared/peer-bench/ (README.md and README-rounds.md there) against this
# checkout and prints its summary: CPU per page view and the ratios peer/ours and ours/floor
# for the login page, the customer's case list, the case page and the staff queue.
#
#   bench/peer.sh                          # SQLite, 20,000 cases, ROUNDS=2 DUR=5s WARM=2s
#   ROUNDS=5 DUR=8s PAGES=login,view bench/peer.sh
#   PEER_BACKEND=postgresql bench/peer.sh  # ours on PostgreSQL (database audit_perf), 20,000 cases
#
# Env: PEER_BENCH (the harness, default ../shared/peer-bench), PEER_WORK (its venv, data and
# results, default /tmp/hezo-peer: the Django venv and both data sets are made once and
# reused), PEER_BACKEND (sqlite or postgresql: ours on the local PostgreSQL, database
# audit_perf, made if missing; the peer stays on its own SQLite), ROUNDS, DUR, WARM, PAGES,
# SYSTEMS, TAG (as in README-rounds.md). Needs
# scripts/setup first; the harness installs Debian's wrk if it is missing. Only 127.0.0.1 is
# used; the harness stops its three gunicorns at the end, also on errors. Quote the CPU
# figures first (steady on a shared machine) with the load averages the run prints.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
peer=$(cd "${PEER_BENCH:-$root/../shared/peer-bench}" && pwd)
work=${PEER_WORK:-/tmp/hezo-peer}
backend=${PEER_BACKEND:-sqlite}
case $backend in
  sqlite) folder=$work/gen/s01 ;;
  postgresql) folder=$work/gen/pg01 ;;
  *) echo "peer.sh: PEER_BACKEND is sqlite or postgresql" >&2; exit 2 ;;
esac
manifest=$folder/workspace-$backend.json
tag=${TAG:-$(git rev-parse --short HEAD)-$backend-$(date -u +%H%M)}
mkdir -p "$work"
if [ ! -f "$manifest" ]; then
  echo "peer.sh: making our data (20,000 cases, $backend) under $folder"
  if [ "$backend" = postgresql ]; then
    psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'audit_perf'" \
      | grep -q 1 || createdb -h 127.0.0.1 -U postgres audit_perf
    .venv/bin/python "$peer/ours_gen.py" "$folder" 0.1 postgresql \
      postgresql://postgres@127.0.0.1:5432/audit_perf
  else
    .venv/bin/python "$peer/ours_gen.py" "$folder" 0.1 sqlite
  fi
fi
# Data made by an older checkout gets this one's schema (the app does not migrate at start).
.venv/bin/python - "$manifest" <<'PY'
import json, sys
from hezo import create_app
from hezo.migrations import migrate_database
m = json.load(open(sys.argv[1]))
app = create_app({"DATABASE_URL": m["url"], "DATABASE_OPTIONS": m.get("options"),
                  "SECRET_KEY": m["secret_key"], "TOTP_ENCRYPTION_KEY": m["totp_encryption_key"]})
with app.app_context():
    print("peer.sh: migrations applied to our data:", migrate_database() or "none")
PY
echo "peer.sh: load before: $(cat /proc/loadavg) ($(nproc) cores)"
PEERBENCH_DIR=$work/peerbench OURS_DIR=$root OURS_DATASETS=$([ "$backend" = postgresql ] && echo pg20k || echo 20k)=$manifest \
  ROUNDS=${ROUNDS:-2} DUR=${DUR:-5s} WARM=${WARM:-2s} TAG=$tag \
  bash "$peer/rounds.sh"
echo "peer.sh: load after: $(cat /proc/loadavg)"
echo "peer.sh: results in $work/peerbench/results/$tag/ (summary.md below)"
cat "$work/peerbench/results/$tag/summary.md"
