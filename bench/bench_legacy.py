"""Legacy migration: time, throughput and peak memory on SQLite and PostgreSQL.

    python bench/bench_legacy.py [--backend sqlite|postgresql|both] [--active 10000]
        [--closed N] [--messages 20] [--workers N] [--runs 2]

Generates the export with ``gen_legacy.py`` (cached under ``bench/out/``), then
for each backend creates a fresh database (a SQLite file under ``bench/out/`` or
a new PostgreSQL schema ``bench_legacy_<pid>_...``, dropped at the end) and
imports the file ``--runs`` times, each run in a fresh process through
``hezo.imports.legacy.import_legacy`` with the app built as ``hezo`` builds it.
Run 1 migrates everything; a second run must find everything unchanged. The
uploaded PDFs go to a folder under ``bench/out/`` that is removed afterwards.

Peak memory is ``ru_maxrss`` of the importing process and, separately, of its
largest child (a PDF worker); the target applies to each process.

Targets (issue): 10,000 active cases of 20 messages plus 30,000 closed ones in
under 3 minutes on this 2-core machine (scaled by ``--active / 10000`` for
other sizes), peak memory under 300 MB. The exit status is 1 when one is missed.
"""

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DEFAULT_PG_URL,
    OUT_DIR,
    app_config,
    emit,
    fresh_pg_schema,
    fresh_sqlite,
    peak_rss_mb,
    remove_sqlite,
    run_child,
)

SCRIPT = Path(__file__).resolve()
TARGET_SECONDS = 180.0  # 10,000 active cases
TARGET_PEAK_MB = 300.0


def export_file(
    active: int, closed: int, messages: int, seed: int, regenerate: bool
) -> Path:
    """The cached export for these parameters, generated when missing."""
    from gen_legacy import write_legacy

    path = OUT_DIR / f"legacy-{active}a-{closed}c-{messages}m-s{seed}.json"
    if regenerate or not path.exists():
        started = time.perf_counter()
        stats = write_legacy(path, active, closed, messages, seed)
        print(
            f"generated {path.relative_to(SCRIPT.parent.parent)}: "
            f"{path.stat().st_size / 1e6:.0f} MB, {stats} "
            f"in {time.perf_counter() - started:.1f} s"
        )
    else:
        print(
            f"reusing {path.relative_to(SCRIPT.parent.parent)} "
            f"({path.stat().st_size / 1e6:.0f} MB)"
        )
    return path


# -- the measured child ----------------------------------------------------


def child_import(
    url: str, schema: str | None, path: Path, uploads: Path, workers: int | None
) -> None:
    """One import in this fresh process; prints its figures as JSON."""
    from hezo import create_app
    from hezo.db import db
    from hezo.imports.legacy import import_legacy
    from hezo.migrations import migrate_database

    app = create_app(app_config(url, schema) | {"UPLOAD_FOLDER": str(uploads)})
    with app.app_context():
        migrate_database()
        base_mb = peak_rss_mb()
        cpu_started = time.process_time()
        started = time.perf_counter()
        report = import_legacy(path, workers=workers)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if not db.is_closed():
            db.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    emit(
        {
            "seconds": seconds,
            "cpu": cpu,
            "children_cpu": children.ru_utime + children.ru_stime,
            "base_mb": base_mb,
            "peak_mb": peak_rss_mb(),
            "child_peak_mb": children.ru_maxrss / 1024,
            "contracts": vars(report.contracts),
            "cases": vars(report.cases),
            "rejected": len(report.rejected),
            "files": sum(1 for p in uploads.rglob("*") if p.is_file()),
        }
    )


# -- the parent ------------------------------------------------------------


def run_backend(
    name: str, url: str, schema: str | None, path: Path, args: argparse.Namespace
) -> list[dict]:
    uploads = OUT_DIR / f"legacy-uploads-{os.getpid()}-{name}"
    shutil.rmtree(uploads, ignore_errors=True)
    child = ["--child", "--url", url, "--file", str(path), "--uploads", str(uploads)]
    child += ["--schema", schema] if schema else []
    child += ["--workers", str(args.workers)] if args.workers else []
    results = []
    try:
        for run in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            result = run_child(SCRIPT, child)
            result.update(backend=name, run=run, load=load)
            print_run(result)
            results.append(result)
    finally:
        shutil.rmtree(uploads, ignore_errors=True)
    return results


def print_run(r: dict) -> None:
    cases, contracts = r["cases"], r["contracts"]
    done = cases["imported"] + cases["repaired"]
    records = done + cases["unchanged"] + cases["skipped_closed"] + r["rejected"]
    print(
        f"{r['backend']:<10} run {r['run']}: {r['seconds']:7.1f} s, "
        f"{done / r['seconds']:6.1f} cases written/s, "
        f"{records / r['seconds']:7.1f} case records/s"
    )
    print(
        f"{'':<17}peak: importer {r['peak_mb']:.0f} MB (after start-up "
        f"{r['base_mb']:.0f} MB), largest worker {r['child_peak_mb']:.0f} MB"
    )
    print(
        f"{'':<17}CPU: importer {r['cpu']:.0f} s, workers {r['children_cpu']:.0f} s;"
        f" load average before {r['load']:.2f}"
    )
    print(
        f"{'':<17}contracts {contracts}, cases {cases}, rejected {r['rejected']}, "
        f"files in the upload folder {r['files']}"
    )


def checks(results: list[dict], active: int) -> list[tuple[str, bool]]:
    limit = TARGET_SECONDS * active / 10_000
    out = []
    for r in results:
        tag = f"{r['backend']} run {r['run']}"
        if r["run"] == 1:
            out.append(
                (f"{tag}: {r['seconds']:.1f} s < {limit:.0f} s", r["seconds"] < limit)
            )
            out.append(
                (
                    f"{tag}: all {active} active cases imported",
                    r["cases"]["imported"] == active and r["rejected"] == 0,
                )
            )
        else:
            out.append(
                (
                    f"{tag}: nothing imported again",
                    r["cases"]["imported"] == 0 and r["cases"]["unchanged"] == active,
                )
            )
        peak = max(r["peak_mb"], r["child_peak_mb"])
        out.append(
            (
                f"{tag}: peak {peak:.0f} MB < {TARGET_PEAK_MB:.0f} MB",
                peak < TARGET_PEAK_MB,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql", "both"), default="sqlite"
    )
    parser.add_argument("--active", type=int, default=10_000)
    parser.add_argument(
        "--closed", type=int, default=None, help="closed cases (default: 3 x --active)"
    )
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="PDF worker processes (default: one per core)",
    )
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument(
        "--pg-url", default=os.environ.get("HEZO_BENCH_POSTGRES_URL", DEFAULT_PG_URL)
    )
    # internal: one measured import in a fresh process
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--uploads", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child_import(args.url, args.schema, args.file, args.uploads, args.workers)
        return 0

    closed = 3 * args.active if args.closed is None else args.closed
    path = export_file(args.active, closed, args.messages, args.seed, args.regenerate)
    print(f"{os.cpu_count()} cores; workers: {args.workers or 'one per core'}")
    results = []
    if args.backend in ("sqlite", "both"):
        url = fresh_sqlite("bench-legacy.db")
        try:
            results += run_backend("sqlite", url, None, path, args)
        finally:
            remove_sqlite(url)
    if args.backend in ("postgresql", "both"):
        with fresh_pg_schema(args.pg_url, prefix="bench_legacy") as schema:
            results += run_backend("postgresql", args.pg_url, schema, path, args)
    print()
    passed = True
    for description, ok in checks(results, args.active):
        print(f"{'PASS' if ok else 'MISS'}  {description}")
        passed = passed and ok
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
