#!/usr/bin/env bash
# The portal beside django-helpdesk and a bare Flask floor (issue 21, item 5): runs the peer
# harness of ../shared/peer-bench/ (README.md and README-rounds.md there) against this
# checkout and prints its summary: CPU per page view and the ratios peer/ours and ours/floor
# for the login page, the customer's case list, the case page and the staff queue.
#
#   bench/peer.sh                          # SQLite, 20,000 cases, ROUNDS=2 DUR=5s WARM=2s
#   ROUNDS=5 DUR=8s PAGES=login,view bench/peer.sh
#
# Env: PEER_BENCH (the harness, default ../shared/peer-bench), PEER_WORK (its venv, data and
# results, default /tmp/hezo-peer: the Django venv and both data sets are made once and
# reused), ROUNDS, DUR, WARM, PAGES, SYSTEMS, TAG (as in README-rounds.md). Needs
# scripts/setup first; the harness installs Debian's wrk if it is missing. Only 127.0.0.1 is
# used; the harness stops its three gunicorns at the end, also on errors. Quote the CPU
# figures first (steady on a shared machine) with the load averages the run prints.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
peer=$(cd "${PEER_BENCH:-$root/../shared/peer-bench}" && pwd)
work=${PEER_WORK:-/tmp/hezo-peer}
manifest=$work/gen/s01/workspace-sqlite.json
tag=${TAG:-$(git rev-parse --short HEAD)-$(date -u +%H%M)}
mkdir -p "$work"
if [ ! -f "$manifest" ]; then
  echo "peer.sh: making our data (20,000 cases) under $work/gen/s01"
  .venv/bin/python "$peer/ours_gen.py" "$work/gen/s01" 0.1 sqlite
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
PEERBENCH_DIR=$work/peerbench OURS_DIR=$root OURS_DATASETS=20k=$manifest \
  ROUNDS=${ROUNDS:-2} DUR=${DUR:-5s} WARM=${WARM:-2s} TAG=$tag \
  bash "$peer/rounds.sh"
echo "peer.sh: load after: $(cat /proc/loadavg)"
echo "peer.sh: results in $work/peerbench/results/$tag/ (summary.md below)"
cat "$work/peerbench/results/$tag/summary.md"
