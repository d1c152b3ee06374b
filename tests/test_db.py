import threading

import pytest
from peewee import IntegrityError
from playhouse.schema_diff import diff_models

from hezo.db import db, is_sqlite
from hezo.models import ALL_MODELS, Contract, Device


def test_migrations_build_exactly_the_schema_of_the_models(dbconn):
    assert not diff_models(db.obj, ALL_MODELS), "a model change needs a migration"


def test_sqlite_uses_wal_foreign_keys_and_busy_timeout(dbconn):
    if not is_sqlite():
        pytest.skip("SQLite pragmas")
    assert db.obj.journal_mode == "wal"
    assert db.obj.foreign_keys == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_foreign_keys_are_enforced(dbconn):
    with pytest.raises(IntegrityError), db.atomic():
        Device.create(contract=987654, serial="X1", product="")


def test_each_request_closes_its_connection(client):
    seen = []

    @client.application.after_request
    def _spy(response):
        seen.append(db.is_closed())
        return response

    client.get("/pl/")
    assert seen == [False]
    assert db.is_closed()


def test_concurrent_requests_do_not_fail(app):
    errors = []

    def hit():
        with app.test_client() as c:
            for _ in range(5):
                if c.get("/healthz").status_code != 200:
                    errors.append(1)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_request_sees_what_another_connection_committed_meanwhile(client, dbconn):
    """Connections are pooled: one lent again must not read an old snapshot."""
    from .factories import login, make_company, make_contract, make_user

    company = make_company()
    make_contract(customer=company, number="HZ-EARLIER", serials=("SN-A",))
    login(client, make_user(company=company))
    pages = []

    def look():  # a thread of its own: a pooled connection, not this one
        thread = threading.Thread(
            target=lambda: pages.append(client.get("/pl/contracts/").text)
        )
        thread.start()
        thread.join()

    db.connect(reuse_if_open=True)  # held by this thread: the requests get another
    look()
    make_contract(customer=company, number="HZ-LATER", serials=("SN-B",))
    look()
    assert "HZ-EARLIER" in pages[0] and "HZ-LATER" not in pages[0]
    assert "HZ-LATER" in pages[1]


def test_a_connection_postgresql_dropped_while_idle_is_replaced(client, monkeypatch):
    if is_sqlite():
        pytest.skip("the PostgreSQL pool")
    import psycopg

    backends = []

    @client.application.after_request
    def _spy(response):
        backends.append(db.connection().info.backend_pid)
        return response

    assert client.get("/healthz").status_code == 200
    url = client.application.config["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backends[0],))
    monkeypatch.setattr(db.obj, "ping_after_seconds", 0)  # "idle for a while"
    assert client.get("/healthz").status_code == 200
    assert backends[1] != backends[0]


def test_contract_number_is_unique(dbconn):
    from hezo.models import Company

    company = Company.create(nip="5260181596", name="Żółw")
    fields = dict(
        customer=company,
        service_code="PW-TAC",
        start_date="2025-01-01",
        end_date="2026-01-01",
    )
    Contract.create(number="HZ-1", **fields)
    with pytest.raises(IntegrityError), db.atomic():
        Contract.create(number="HZ-1", **fields)
