"""Helpers shared by the benchmarks: fresh databases, peak memory, child runs.

Every measured step runs in a fresh Python process, so its peak memory (the
RSS high-water mark) is its own and not that of the process that generated the
data or ran an earlier step.
"""

import json
import os
import resource
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"  # git-ignored
DEFAULT_PG_URL = "postgresql://127.0.0.1:5432/test"

BENCH_CONFIG = {
    "TESTING": True,  # no SECRET_KEY needed; nothing is served
    "SECRET_KEY": "bench-secret-key-not-for-production",
    "RATELIMIT_ENABLED": False,
}


def peak_rss_mb() -> float:
    """This process's RSS high-water mark in MiB (``ru_maxrss`` is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def fresh_sqlite(name: str) -> str:
    """The URL of an empty SQLite file under ``bench/out/`` (old one removed)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / name
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def remove_sqlite(url: str) -> None:
    path = url.removeprefix("sqlite:///")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def fresh_pg_schema(url: str, prefix: str = "bench") -> Iterator[str]:
    """An empty PostgreSQL schema of its own, dropped (with its tables) at the end."""
    import psycopg

    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def app_config(url: str, schema: str | None = None) -> dict:
    """``create_app`` overrides that bind the database (a PostgreSQL schema or not)."""
    config = dict(BENCH_CONFIG, DATABASE_URL=url)
    if schema:
        config["DATABASE_OPTIONS"] = {"options": f"-c search_path={schema}"}
    return config


def bind_database(url: str, schema: str | None = None, via_app: bool = False):
    """Bind ``hezo.db.db`` to the database and connect.

    By default only the database layer is loaded (what the import needs), so
    the measured memory is the importer's. ``via_app`` builds the whole Flask
    app first, as ``hezo import-contracts`` does, start-up footprint included.
    """
    from hezo.db import db, make_database

    if via_app:
        from hezo import create_app

        create_app(app_config(url, schema))
    else:
        options = app_config(url, schema).get("DATABASE_OPTIONS")
        db.initialize(make_database(url, options))
    db.connect(reuse_if_open=True)


def stop_process_group(proc: subprocess.Popen) -> None:
    """End a process started with ``start_new_session=True`` and its children:
    SIGTERM, then SIGKILL after 15 s."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def run_child(script: Path, args: list[str]) -> dict:
    """Run ``script`` in a fresh interpreter; it prints one JSON object last."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} exited {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def emit(result: dict) -> None:
    """How a child hands its result to the parent (see ``run_child``)."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def workspace_app(manifest: dict):
    """The app in this process on a workspace (``gen_workspace.py``'s
    manifest): its keys, ``localhost`` trusted, no rate limits."""
    from hezo import create_app

    overrides = {
        "DATABASE_URL": manifest["url"],
        "SECRET_KEY": manifest["secret_key"],
        "TOTP_ENCRYPTION_KEY": manifest["totp_encryption_key"],
        "TRUSTED_HOSTS": ["localhost"],
        "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_ENABLED": False,
    }
    if manifest.get("options"):
        overrides["DATABASE_OPTIONS"] = manifest["options"]
    return create_app(overrides)


def signed_in_client(app, user, sid: str):
    """A test client with ``user``'s session (signed in, second factor done)."""
    import time

    client = app.test_client()
    with client.session_transaction() as session:
        now = int(time.time())
        session.update(
            {
                "_user_id": user.session_token,
                "sid": sid,
                "_fresh": True,
                "auth_at": now,
                "seen_at": now,
            }
        )
    return client
