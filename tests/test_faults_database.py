"""A request that cannot reach the database gets the portal's 503 page.

Whatever it was doing: reading the signed-in user, rendering through a context
processor, in a hook after the view, or opening the connection. The page is
translated, carries Retry-After and the security headers, and the log line
names the request.
"""

import logging
import sqlite3

import psycopg
import pytest
from peewee import OperationalError

from hezo import create_app
from hezo.db import db, is_sqlite

from .conftest import PG_URL, TEST_CONFIG
from .factories import login, make_user

POLISH_TITLE = "Nie można połączyć się z bazą danych"


def assert_unavailable_page(response):
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:300]
    assert response.headers["Retry-After"] == "5"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert POLISH_TITLE in page
    assert "Internal Server Error" not in page


def signed_in(client):
    login(client, make_user())
    db.close()  # the test body's connection is not the requests' one


def insert_after_connect(app, hook):
    """Run ``hook`` in each request right after its connection is opened
    (before the signed-in user is read)."""
    hooks = app.before_request_funcs[None]
    position = next(i for i, f in enumerate(hooks) if f.__name__ == "_connect")
    hooks.insert(position + 1, hook)


def test_backend_terminated_mid_request_answers_503_page(app, client, dbconn):
    if is_sqlite():
        pytest.skip("PostgreSQL backend termination")
    signed_in(client)

    def terminate_own_backend():
        pid = db.connection().info.backend_pid
        with psycopg.connect(PG_URL, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))

    insert_after_connect(app, terminate_own_backend)
    assert_unavailable_page(client.get("/pl/cases/"))
    app.before_request_funcs[None].remove(terminate_own_backend)
    # The broken connection was not lent again.
    assert client.get("/pl/cases/").status_code == 200


def test_database_unreachable_answers_503_page_logged_with_request_id(
    app, client, dbconn, caplog
):
    signed_in(client)
    cookies = {c.key: c.value for c in client._cookies.values()}
    dead = create_app(
        TEST_CONFIG
        | {"DATABASE_URL": "postgresql://127.0.0.1:9/hezo"}
        | {"UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"]}
    )
    dead_client = dead.test_client()
    for name, value in cookies.items():
        dead_client.set_cookie(name, value)
    with caplog.at_level(logging.WARNING, logger="hezo.web"):
        response = dead_client.get("/pl/cases/")
    assert_unavailable_page(response)
    reference = response.get_data(as_text=True).split("Identyfikator błędu: ")[1]
    request_id = reference.split("<")[0].strip()
    assert len(request_id) == 16
    assert any(
        f"request {request_id}" in r.getMessage() and "/cases/" in r.getMessage()
        for r in caplog.records
    )


@pytest.fixture
def config_overrides():
    return {"DATABASE_OPTIONS": {"timeout": 0.1}} if not PG_URL else {}


def test_sqlite_file_locked_answers_503_page(app, client, dbconn):
    if not is_sqlite():
        pytest.skip("SQLite file lock")
    signed_in(client)
    db.obj.close_all()  # idle pooled connections would keep the lock away
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        # An exclusive lock held on the file: no reader or writer gets in.
        other.execute("PRAGMA locking_mode=EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        other.execute("UPDATE company SET name = name")
        assert_unavailable_page(client.get("/pl/cases/"))
        assert_unavailable_page(
            client.post("/pl/cases/ZG-2026-00001/messages", data={"body": "Halo"})
        )
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert client.get("/pl/cases/").status_code == 200


def test_error_in_context_processor_answers_503_page(app, client, dbconn):
    signed_in(client)

    def failing():
        raise OperationalError("server closed the connection unexpectedly")

    app.template_context_processors[None].append(failing)

    assert_unavailable_page(client.get("/pl/cases/"))


def test_error_after_the_view_answers_503_page(app, client, dbconn):
    signed_in(client)

    def failing(response):
        raise OperationalError("server closed the connection unexpectedly")

    app.after_request_funcs.setdefault(None, []).append(failing)

    assert_unavailable_page(client.get("/pl/cases/"))


def test_error_in_teardown_answers_503_page(app, client, dbconn):
    signed_in(client)

    def failing(exc):
        raise psycopg.OperationalError("the connection is lost")

    app.teardown_request_funcs.setdefault(None, []).append(failing)

    assert_unavailable_page(client.get("/pl/cases/"))


def test_database_lost_as_a_one_time_post_begins_answers_503_page(
    app, client, dbconn, monkeypatch
):
    from .factories import make_company, make_contract
    from .test_submissions import form_key, post_case

    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    make_contract(customer=company, number="HZ-2025-000123", serials=("1942Y-40125",))
    login(client, make_user(company=company))
    key = form_key(client, "/pl/cases/new")

    def begin(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(db.obj, "begin", begin)  # the claim's BEGIN fails
    assert_unavailable_page(post_case(client, key))
