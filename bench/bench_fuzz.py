"""Fuzz the whole URL map with many requests and print the tally by status.

The same requests as ``tests/test_fuzz.py`` (``tests/fuzz.py``: every route
and method as each role, known and bad values; then randomised requests drawn
by hypothesis), in far greater number, against a fresh database. Server
errors and answers without the security headers are listed, not fatal.

    .venv/bin/python bench/bench_fuzz.py [--requests 10000] [--postgresql [URL]]

Exit status 1 when any answer was wrong.
"""

import argparse
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import DEFAULT_PG_URL, fresh_pg_schema  # noqa: E402

from hezo import create_app  # noqa: E402
from hezo.db import db  # noqa: E402
from hezo.migrations import migrate_database  # noqa: E402
from tests import fuzz  # noqa: E402
from tests.conftest import TEST_CONFIG  # noqa: E402


def build_app(url: str, schema: str | None, folder: Path):
    from flask import g

    config = TEST_CONFIG | {
        "DATABASE_URL": url,
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "OUTBOX_FILE_FOLDER": str(folder / "mail"),
    }
    if schema:
        config["DATABASE_OPTIONS"] = {"options": f"-c search_path={schema}"}
    app = create_app(config)
    # One app context is held for the whole run: a fresh ``g`` per request,
    # as in production (see tests/conftest.py).
    app.url_value_preprocessors.setdefault(None, []).insert(
        0, lambda endpoint, values: vars(g).clear()
    )
    migrate_database()
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--postgresql", nargs="?", const=DEFAULT_PG_URL)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="hezo-fuzz-") as tmp,
        (
            fresh_pg_schema(args.postgresql, "fuzz")
            if args.postgresql
            else nullcontext()
        ) as schema,
    ):
        folder = Path(tmp)
        url = args.postgresql or f"sqlite:///{folder / 'fuzz.db'}"
        app = build_app(url, schema, folder)
        db.connect(reuse_if_open=True)
        started = time.monotonic()
        with app.app_context():
            world = fuzz.make_world(app)
            swept = fuzz.sweep(app, world, raise_on_problem=False)
            per_example = 10
            left = max(args.requests - swept.total, 0)
            examples = (left + per_example - 1) // per_example
            fuzzed = fuzz.run(app, world, examples, per_example, raise_on_problem=False)
        seconds = time.monotonic() - started
        if not db.is_closed():
            db.close()
    statuses = swept.statuses + fuzzed.statuses
    failures = swept.failures + fuzzed.failures
    total = sum(statuses.values())
    database = "PostgreSQL" if args.postgresql else "SQLite"
    print(f"{total} requests on {database} in {seconds:.0f} s ({swept.total} swept)")
    print(
        f"endpoints: {len(swept.endpoints | fuzzed.endpoints)} of "
        f"{len(list(app.url_map.iter_rules()))}"
    )
    for status, count in sorted(statuses.items()):
        print(f"  {status}: {count}")
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    print(f"server errors: {server_errors}; wrong answers: {len(failures)}")
    for failure in failures[:20]:
        print("  ", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
