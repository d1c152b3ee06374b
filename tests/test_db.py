import threading

import pytest
from peewee import JOIN, IntegrityError
from playhouse.schema_diff import diff_models

from hezo.db import db, is_sqlite, make_database
from hezo.models import ALL_MODELS, Contract, Device

#: Columns only the database writes (its triggers), on purpose not model
#: fields: ``Model.save()`` would write an old value back (migration 0014).
TRIGGER_COLUMNS = [("support_case", "revision")]


def test_migrations_build_exactly_the_schema_of_the_models(dbconn):
    diff = diff_models(db.obj, ALL_MODELS)
    assert diff.drop_columns == TRIGGER_COLUMNS
    rest = diff._replace(drop_columns=[])
    assert not rest, f"a model change needs a migration: {rest}"


def test_sqlite_uses_wal_foreign_keys_and_busy_timeout(dbconn):
    if not is_sqlite():
        pytest.skip("SQLite pragmas")
    assert db.obj.journal_mode == "wal"
    assert db.obj.foreign_keys == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_sqlite_busy_timeout_option_reaches_sqlite(tmp_path):
    # The pool takes a ``timeout`` of its own (the wait for a free connection).
    database = make_database(f"sqlite:///{tmp_path / 'x.db'}", {"timeout": 0.25})
    try:
        assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 250
    finally:
        database.close_all()


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


def _two_contracts():
    from hezo.models import Company

    from .factories import make_company, make_contract

    partner = make_company(name="Partner Łódź")
    first = make_contract(number="HZ-BAKED-1", partner=partner, serials=("SN-Ą1",))
    second = make_contract(number="HZ-BAKED-2", serials=("SN-Ę2", "SN-Ę3"))
    query = (
        Device.select(Device, Contract, Company)
        .join(Contract)
        .join(Company, JOIN.LEFT_OUTER, on=(Contract.partner == Company.id))
        .order_by(Device.serial)
    )
    return first, second, query


def test_a_cached_statement_reads_the_rows_of_its_query(dbconn):
    """Each value goes to its parameter; rows (joined models too) come back
    as the plain query's, for each value in turn."""
    from hezo.statements import Statement, param

    first, second, query = _two_contracts()
    statement = Statement(query.where(Contract.number == param("number")))
    for contract in (first, second, first):
        expected = list(query.where(Contract.number == contract.number))
        rows = list(statement.bind(number=contract.number))
        assert [d.serial for d in rows] == [d.serial for d in expected]
        assert [(d.contract.number, d.contract.partner_id) for d in rows] == [
            (d.contract.number, d.contract.partner_id) for d in expected
        ]
    assert statement.bind(number="HZ-BAKED-1").first().contract.partner.name == (
        "Partner Łódź"
    )
    assert statement.bind(number="none").first() is None


def test_a_cached_statement_takes_values_as_parameters_never_as_sql(dbconn):
    from hezo.statements import Statement, param

    _first, _second, query = _two_contracts()
    statement = Statement(query.where(Contract.number == param("number")))
    assert list(statement.bind(number="x' OR '1'='1")) == []
    assert len(list(statement.bind(number="HZ-BAKED-2"))) == 2


def test_a_cached_statement_takes_exactly_its_parameters(dbconn):
    """A value missing or misspelt is an error, not a NULL in the query."""
    from hezo.statements import Statement, param

    _first, _second, query = _two_contracts()
    statement = Statement(query.where(Contract.number == param("number")))
    with pytest.raises(TypeError):
        statement.bind()
    with pytest.raises(TypeError):
        statement.bind(number="HZ-BAKED-1", company=1)


def test_fetch_all_reads_several_selects_in_order(dbconn):
    """On PostgreSQL in one pipeline; the results are those of each select."""
    from hezo.db import fetch_all
    from hezo.statements import Statement, param

    first, second, query = _two_contracts()
    cached = Statement(query.where(Contract.number == param("number")))
    rows = fetch_all(
        cached.bind(number=second.number),
        Contract.select().where(Contract.number == "none"),
        query.where(Contract.id == first.id),
    )
    assert [[d.serial for d in r] for r in rows] == [["SN-Ę2", "SN-Ę3"], [], ["SN-Ą1"]]


def test_fetch_all_answers_a_lost_database_as_peewee_does(app, dbconn):
    """An error in the pipeline is peewee's error, as on any statement (the
    503 page handles peewee's OperationalError)."""
    from peewee import DatabaseError, OperationalError

    from hezo.db import fetch_all

    if is_sqlite():
        pytest.skip("the PostgreSQL pipeline")
    _two_contracts()
    with pytest.raises(DatabaseError) as raised:  # a subquery of two rows
        fetch_all(
            Contract.select(),
            Contract.select().where(Contract.id == Contract.select(Contract.id)),
        )
    assert not isinstance(raised.value, OperationalError)
    import psycopg

    with psycopg.connect(app.config["DATABASE_URL"], autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(%s)", (db.connection().info.backend_pid,)
        )
    with pytest.raises(OperationalError):
        fetch_all(Contract.select(), Device.select())


def test_a_connection_is_lent_again_only_in_a_clean_state(app, dbconn):
    """After a failed statement in a pipeline psycopg may take statements of
    it for prepared that the server never kept: the next borrower got
    "prepared statement … does not exist". Such a connection is not lent again.
    """
    from peewee import SQL, DatabaseError, Value

    from hezo.db import fetch_all

    if is_sqlite():
        pytest.skip("the PostgreSQL pipeline")
    _two_contracts()

    def bad():
        # The value goes to the server as it is: the server refuses it.
        return Device.select().where(
            Device.id == Value("not a number", converter=False)
        )

    for warm in range(8):  # psycopg prepares a statement after its 5th use
        own = SQL(f"{warm} >= 0")  # literal text: a statement of its own

        def good(own=own):
            return Contract.select().where(Contract.number == "HZ-BAKED-1", own)

        db.close()
        db.connect()
        for _ in range(warm):
            list(good())
        with pytest.raises(DatabaseError):
            fetch_all(bad(), good())
        db.close()  # the end of that request
        db.connect()  # the next one
        for _ in range(3):
            assert len(list(good())) == 1, warm
