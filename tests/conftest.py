"""Fixtures: a fresh database per test on SQLite (default) or PostgreSQL.

``HEZO_TEST_DATABASE_URL=postgresql://...`` runs the same tests on PostgreSQL,
in a schema of its own that is dropped at the end. An unreachable PostgreSQL
is an error, never a skip.
"""

import functools
import os
import secrets
import shutil

import psycopg
import pytest
from flask import g
from peewee import sort_models

from hezo import create_app
from hezo.db import db
from hezo.migrations import migrate_database
from hezo.models import ALL_MODELS

from .oidc.fixture import oidc_provider  # noqa: F401 (a fixture)

PG_URL = os.environ.get("HEZO_TEST_DATABASE_URL")

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "WTF_CSRF_ENABLED": False,
    "TRUSTED_HOSTS": ["localhost", "127.0.0.1", "myhezo.pl", "myhezo.com"],
    "RATELIMIT_ENABLED": False,
    # Cheap hashes for speed (production costs: test_security_recovery.py).
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "RECOVERY_CODE_HASH_METHOD": "scrypt:16:8:1",
    # The console's settings are compared with the database only this often
    # (a test moves hezo.settings.clock on): a query-count test stays exact
    # however slowly it runs.
    "SETTINGS_CHECK_SECONDS": 3600,
}


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (WAL)'}"


def pytest_sessionstart(session):
    # Here, before pytest-xdist starts its workers, so that the reason is printed
    # (a worker's exit would show only as an internal error).
    if PG_URL:
        try:
            psycopg.connect(PG_URL, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            pytest.exit(f"PostgreSQL unreachable at {PG_URL}: {exc}", returncode=1)


@pytest.fixture(scope="session")
def pg_schema():
    """A private schema for this run, migrated once; None on SQLite."""
    if not PG_URL:
        yield None
        return
    schema = f"hezo_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        pytest.exit(f"PostgreSQL unreachable at {PG_URL}: {exc}", returncode=1)
    yield schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def _pg_migrated(pg_schema):
    if pg_schema:
        create_app(database_config(None, pg_schema) | TEST_CONFIG)
        migrate_database()
        db.close()
    return pg_schema


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory, pg_schema):
    """A SQLite file migrated once per run, copied for each test; None on PostgreSQL."""
    if pg_schema:
        return None
    path = tmp_path_factory.mktemp("template") / "hezo.db"
    create_app(TEST_CONFIG | {"DATABASE_URL": f"sqlite:///{path}"})
    migrate_database()
    # Everything in the main file (no -wal beside it), so one file is the copy.
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close_all()
    return path


def database_config(tmp_path, pg_schema) -> dict:
    if pg_schema:
        return {
            "DATABASE_URL": PG_URL,
            "DATABASE_OPTIONS": {"options": f"-c search_path={pg_schema}"},
        }
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'hezo.db'}"}


@pytest.fixture
def config_overrides():
    """Override in a test module to change the app's configuration."""
    return {}


@pytest.fixture
def app(tmp_path, _pg_migrated, _sqlite_template, config_overrides):
    if _sqlite_template:
        shutil.copyfile(_sqlite_template, tmp_path / "hezo.db")
    app = create_app(
        TEST_CONFIG
        | database_config(tmp_path, _pg_migrated)
        | {
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "OUTBOX_FILE_FOLDER": str(tmp_path / "mail"),
        }
        | config_overrides
    )
    # Tests hold an app context (``dbconn``) while making requests, and Flask
    # reuses it for them, so ``g`` would carry the signed-in user and the locale
    # from one request (and client) to the next. Production has a fresh ``g``
    # per request: give tests the same.
    app.url_value_preprocessors.setdefault(None, []).insert(
        0, lambda endpoint, values: vars(g).clear()
    )
    if _pg_migrated:
        _empty_all()
        app.extensions["catalogue"].reload()  # read before the rows went
        db.close()
    yield app
    if not db.is_closed():
        db.close()


#: Rows the migrations seed, kept as a new (SQLite template) database has them.
SEED_KEPT = {"ServiceVariant": " WHERE NOT package"}


@functools.cache
def _empty_all_sql() -> str:
    """Delete every row (children first) and restart the id sequences, as
    ``TRUNCATE ... RESTART IDENTITY`` does, in one round trip. TRUNCATE gives
    each table new files: about 15 ms a table, DELETE on the few rows of a
    test under 1 ms."""
    deletes = [
        f'DELETE FROM "{m._meta.table_name}"{SEED_KEPT.get(m.__name__, "")};'
        for m in reversed(sort_models(ALL_MODELS))
    ]
    restart = (
        "SELECT setval(oid, seqstart, false) FROM pg_class"
        " JOIN pg_sequence ON seqrelid = oid"
        " WHERE relnamespace = current_schema()::regnamespace;"
    )
    kept = [  # their sequences continue after the kept rows
        f"SELECT setval(pg_get_serial_sequence('{m._meta.table_name}', 'id'),"
        f' (SELECT MAX(id) FROM "{m._meta.table_name}"));'
        for m in ALL_MODELS
        if m.__name__ in SEED_KEPT
    ]
    # The queue's status counts are derived rows (hezo/staff/status_counts.py):
    # the deletes above wrote their -1s; start from none, as a new database.
    derived = ["DELETE FROM case_status_delta;"]
    return " ".join([*deletes, *derived, restart, *kept])


def _empty_all():
    db.execute_sql(_empty_all_sql())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def dbconn(app):
    """A connection and an app context for the test body (requests open their own)."""
    db.connect(reuse_if_open=True)
    with app.app_context():
        yield db
    if not db.is_closed():
        db.close()


@pytest.fixture(scope="session")
def dovecot():
    """A real IMAP server (Dovecot) for this test process, on a free loopback
    port in a directory of its own (one per pytest-xdist worker), stopped and
    removed after the session. Missing Dovecot skips on a developer's machine
    and fails in CI (``CI=true``): there the channel must be tested."""
    from tests.dovecot import Dovecot, DovecotMissing

    try:
        server = Dovecot()
    except DovecotMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def imap_user(dovecot):
    """A mailbox of its own for each test (Dovecot makes one per user name)."""
    return f"pomoc-{secrets.token_hex(6)}"
