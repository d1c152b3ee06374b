"""Service-level reports on the page benchmark's workspace, under gunicorn.

    python bench/bench_reports.py [--backend sqlite|postgresql] [--requests 100]
        [--scale 1.0] [--workers 2] [--month YYYY-MM] [--no-answers]

Reuses the workspace ``gen_workspace.py`` made (``bench/out/workspace.db`` or
the ``bench_ws`` schema; it is generated only when missing or of another
scale: ``bench_pages.ensure_workspace``), brings it to the current schema
(``migrate_database``: the reports' index of migration 0011 on a workspace
made before it) and, unless ``--no-answers``, gives a third of the closed
cases a satisfaction answer when none has any (the generator writes none; one
``INSERT ... SELECT``). Then starts one gunicorn (``--workers`` sync workers)
on a free loopback port, signs in through the real forms as the engineer and
as the big company's customer, and requests each report ``--requests`` times
one after the other (after 5 warm-up requests):

- the staff's month of every customer (the heaviest: about 5,500 cases, 3,200
  customers and 5,200 contracts grouped), its CSV (every group);
- the staff's month of the big company, and its PDF;
- the customer's own month, and its PDF.

Prints the median and p99 per URL (target: p99 under 1 s), the month's
figures as the page shows them, and the time of the figures' SQL alone
(``figures.month_report``, in-process, median of 5). Results go to
``bench/out/reports-<backend>.json``; the exit status is 1 when a p99 is over
the target. Only 127.0.0.1 is contacted; gunicorn is stopped at the end, also
on errors.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from bench_pages import (  # noqa: E402
    Client,
    Gunicorn,
    ensure_workspace,
    percentile,
    reset_logins,
    server_env,
)
from common import (  # noqa: E402
    DEFAULT_PG_URL,
    OUT_DIR,
    REPO_ROOT,
    signed_in_client,
    workspace_app,
)

P99_TARGET_S = 1.0
WARMUP = 5


def previous_month(moment: datetime) -> str:
    year, month = (
        (moment.year, moment.month - 1)
        if moment.month > 1
        else (
            moment.year - 1,
            12,
        )
    )
    return f"{year:04d}-{month:02d}"


def bind(manifest: dict) -> None:
    from hezo.db import db, make_database

    db.initialize(make_database(manifest["url"], manifest.get("options")))
    db.connect(reuse_if_open=True)


def prepare(manifest: dict, answers: bool) -> None:
    """The current schema, satisfaction answers; the in-process SQL timing."""
    from hezo.db import db, is_sqlite
    from hezo.migrations import migrate_database

    bind(manifest)
    applied = migrate_database()
    if applied:
        print(f"  migrations applied to the workspace: {', '.join(applied)}")
    if answers:
        (count,) = db.execute_sql("SELECT COUNT(*) FROM case_satisfaction").fetchone()
        if count == 0:
            modulo = "%" if is_sqlite() else "%%"  # psycopg's placeholders use %
            db.execute_sql(
                "INSERT INTO case_satisfaction (case_id, rating, comment, author_id,"
                " engineer_id, service_code, created_at)"
                f" SELECT c.id, 1 + c.id {modulo} 5, '', NULL, c.assignee_id,"
                " ct.service_code,"
                " c.last_activity_at FROM support_case c"
                " JOIN contract ct ON ct.id = c.contract_id"
                f" WHERE c.status = 'closed' AND c.id {modulo} 3 = 0"
            )
            if is_sqlite():
                db.execute_sql("ANALYZE")
            (count,) = db.execute_sql(
                "SELECT COUNT(*) FROM case_satisfaction"
            ).fetchone()
            print(f"  satisfaction answers added: {count:,}")
    db.close()


def sql_timing(manifest: dict, month: str, company: int) -> dict:
    from playhouse.test_utils import count_queries

    from hezo import sla
    from hezo.db import db
    from hezo.reports import figures

    bind(manifest)
    year, number = map(int, month.split("-"))
    start = datetime(year, number, 1, tzinfo=sla.WARSAW)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=sla.WARSAW)
    out = {}
    for name, scope in (("every customer", None), ("big company", company)):
        times, report, queries = [], None, 0
        for _ in range(5):
            started = time.perf_counter()
            with count_queries() as counted:
                report = figures.month_report(start, end, datetime.now(UTC), scope)
            times.append(time.perf_counter() - started)
            queries = counted.count
        total = report.total
        out[name] = {
            "sql_median_ms": statistics.median(times) * 1000,
            "queries": queries,
            "cases": total.cases,
            "groups": {k: len(v) for k, v in report.groups.items()},
            "response_met_pct": total.response_met_pct,
            "median_window_h": total.median_hours,
            "p90_window_h": total.p90_hours,
            "delivery_met_pct": total.delivery_met_pct,
            "returns_overdue": total.returns_overdue,
            "escalations": total.escalations,
            "satisfaction": total.satisfaction,
        }
    db.close()
    return out


def cpu_per_request(manifest: dict, urls: list, count: int) -> dict:
    """In this process, through the Flask test client: CPU seconds per
    request (``time.process_time``: the work, whatever the machine's load
    makes the wall clock say) and its wall time, ``count`` requests each."""
    from hezo.db import db
    from hezo.models import User

    app = workspace_app(manifest)
    out = {}
    for name, role, path in urls:
        user = User.get(User.email == manifest[role]["email"])
        db.close()
        client = signed_in_client(app, user, f"bench-{role}")
        client.get(path)
        cpu, wall = [], []
        for _ in range(count):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code}")
        out[name] = {
            "cpu_median_ms": statistics.median(cpu) * 1000,
            "cpu_max_ms": max(cpu) * 1000,
            "wall_median_ms": statistics.median(wall) * 1000,
        }
        print(
            f"  in-process {name:<24} CPU median {out[name]['cpu_median_ms']:6.0f} ms"
            f"  max {out[name]['cpu_max_ms']:6.0f} ms"
            f"  (wall median {out[name]['wall_median_ms']:6.0f} ms)",
            flush=True,
        )
    db.close()
    return out


def timed(client: Client, path: str, count: int, limit: float) -> dict:
    for _ in range(WARMUP):
        status, _h, body = client.request("GET", path)
        if status != 200:
            raise RuntimeError(f"{path}: {status} {body[:300]!r}")
    times, size = [], 0
    deadline = time.monotonic() + limit
    while len(times) < count and time.monotonic() < deadline:
        started = time.perf_counter()
        status, _h, body = client.request("GET", path)
        times.append(time.perf_counter() - started)
        size = len(body)
    return {
        "n": len(times),
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": percentile(times, 99) * 1000,
        "bytes": size,
    }


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--month", help="YYYY-MM (default: the month before the data's)"
    )
    parser.add_argument("--no-answers", action="store_true")
    parser.add_argument("--cpu-requests", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args(argv)
    if args.month and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        parser.error("--month must be YYYY-MM")

    manifest = ensure_workspace(args.backend, args)
    month = args.month or previous_month(
        datetime.fromisoformat(manifest["generated_at"])
    )
    company = manifest["big_company"]["id"]
    prepare(manifest, not args.no_answers)
    figures_sql = sql_timing(manifest, month, company)
    one = f"month={month}&customer={company}"
    urls = [
        ("staff, every customer", "engineer", f"/en/reports/?month={month}"),
        ("staff, CSV of all", "engineer", f"/en/reports/report.csv?month={month}"),
        ("staff, big company", "engineer", f"/en/reports/?{one}"),
        ("staff, big company PDF", "engineer", f"/en/reports/report.pdf?{one}"),
        ("customer, own month", "customer", f"/pl/reports/?month={month}"),
        ("customer, PDF", "customer", f"/pl/reports/report.pdf?month={month}"),
    ]
    cpu = cpu_per_request(manifest, urls, args.cpu_requests)
    reset_logins(manifest)
    OUT_DIR.mkdir(exist_ok=True)
    log = OUT_DIR / f"reports-gunicorn-{args.backend}.log"
    server = Gunicorn(
        "app", "app:app", REPO_ROOT, server_env(manifest), args.workers, log
    )
    results = {}
    try:
        server.wait_ready("/en/login")
        staff, customer = Client(server.port, 120), Client(server.port, 120)
        staff.sign_in(
            manifest["engineer"]["email"],
            manifest["password"],
            manifest["engineer"]["totp"],
        )
        customer.sign_in(
            manifest["customer"]["email"],
            manifest["password"],
            manifest["customer"]["totp"],
        )
        clients = {"engineer": staff, "customer": customer}
        for name, role, path in urls:
            client = clients[role]
            results[name] = timed(client, path, args.requests, args.time_limit)
            results[name]["path"] = path
            print(
                f"  {name:<24} median {results[name]['median_ms']:7.1f} ms"
                f"  p99 {results[name]['p99_ms']:7.1f} ms"
                f"  ({results[name]['n']} requests, {results[name]['bytes']:,} bytes)",
                flush=True,
            )
    finally:
        server.stop()
    print(f"{args.backend}: month {month}, load average {load_average()}")
    for name, figures in figures_sql.items():
        print(
            f"  figures SQL, {name}: {figures['sql_median_ms']:.0f} ms,"
            f" {figures['queries']} queries, {figures['cases']:,} cases,"
            f" groups {figures['groups']}"
        )
        print(
            "    response met {response_met_pct:.1f} %, median {median_window_h:.2f}"
            " h, p90 {p90_window_h:.2f} h (window), delivery met"
            " {delivery_met_pct} %, returns overdue {returns_overdue}, escalations"
            " {escalations}, satisfaction {satisfaction}".format(**figures)
        )
    over = [n for n, r in results.items() if r["p99_ms"] > P99_TARGET_S * 1000]
    out = OUT_DIR / f"reports-{args.backend}.json"
    out.write_text(
        json.dumps(
            {
                "backend": args.backend,
                "month": month,
                "scale": manifest["scale"],
                "requests": results,
                "figures_sql": figures_sql,
                "in_process": cpu,
                "load_average": load_average(),
                "over_target": over,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    verdict = f"missed by {over}" if over else "met"
    print(f"  p99 target {P99_TARGET_S:.0f} s: {verdict}")
    print(f"  results: {out}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
