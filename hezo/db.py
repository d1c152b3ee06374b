"""Database handle, base model and the per-request connection.

One ``DatabaseProxy`` is bound in the factory to SQLite (embedded default, WAL)
or PostgreSQL (``postgresql://`` URL). Application code uses only peewee's query
builder, so the same statements run on both.
"""

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
from peewee import (
    SQL,
    DatabaseProxy,
    DateTimeField,
    InterfaceError,
    Model,
    NodeList,
    OperationalError,
    Select,
    SqliteDatabase,
    Value,
)
from peewee import __exception_wrapper__ as database_errors
from playhouse.pool import (
    MaxConnectionsExceeded,
    PooledDatabase,
    PooledPostgresqlDatabase,
    PooledSqliteDatabase,
)

from .statements import cached_text

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    # WAL with synchronous=NORMAL is durable against application crashes and
    # much faster than FULL; only a power loss may drop the last commits.
    "synchronous": 1,
    "cache_size": -32000,
}
BUSY_TIMEOUT_SECONDS = 5

#: What a request gets when the database cannot be reached or is locked: a
#: server gone or restarting, a backend terminated, a refused connection, a
#: full pool, a SQLite file locked past the busy timeout. peewee translates the
#: driver's errors; the drivers' own classes are here for the few paths that
#: bypass it (the pool's checks, psycopg's pipeline). Answered with the 503 page.
UNAVAILABLE_ERRORS = (
    OperationalError,
    InterfaceError,
    MaxConnectionsExceeded,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTimeField(DateTimeField):
    """Stores naive UTC in the database and hands out aware UTC datetimes.

    Naive values given to it are refused rather than guessed at.
    """

    def db_value(self, value):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{self.name}: naive datetime refused")
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


def scalars(*columns):
    """A select of aliased ``columns`` (scalar subqueries, such as counts) as
    one row, read as a dict by alias."""
    return Select(columns=columns).bind(db).dicts()


def like_pattern(text: str) -> str:
    """The pattern of "contains ``text``": LIKE's wildcards in ``text`` match
    only themselves (with ``ESCAPE '\\'``)."""
    for char in ("\\", "%", "_"):
        text = text.replace(char, "\\" + char)
    return f"%{text}%"


def contains_same_case(column, text: str):
    """``column`` contains ``text``, both of one case already (upper-cased):
    a plain ``LIKE`` on both databases, which PostgreSQL answers faster than
    the ``ILIKE`` of peewee's ``contains()``. (peewee would turn its own LIKE
    operator into SQLite's GLOB, hence the SQL node.)"""
    return NodeList(
        (
            column,
            SQL("LIKE"),
            Value(like_pattern(text), converter=False),
            SQL("ESCAPE"),
            Value("\\", converter=False),
        ),
        parens=True,
    )


def fetch_all(*queries) -> list[list]:
    """The rows of several peewee selects (or bound ``hezo.statements``), each
    as a list, in the order given.

    On PostgreSQL they travel together: psycopg's pipeline mode sends all the
    statements and then reads all the results, one network round trip instead
    of one per statement. SQLite has no round trip to save.
    """
    if not is_sqlite():
        # Errors arrive when the pipeline syncs, outside peewee's own
        # translation: translate them the same way (a lost server is still
        # peewee's OperationalError, answered with the 503 page).
        connection = db.connection()
        try:
            with database_errors, connection.pipeline():
                for query in queries:
                    query.execute()  # sent now; the rows are read when iterated
        except Exception:
            # After a failed statement psycopg may hold as prepared statements
            # of the pipeline the server never kept ("prepared statement
            # _pg3_0 does not exist" for whoever borrows it next).
            discard = getattr(db.obj, "discard_on_return", None)
            if discard is not None:
                discard(connection)
            raise
    return [list(query) for query in queries]


class CachedStatements:
    """A database that runs a bound ``hezo.statements`` statement with its
    cached text (peewee's ``execute()`` builds the text of any other query)."""

    def execute(self, query, **context_options):
        text = cached_text(self, query)
        if text is None:
            return super().execute(query, **context_options)
        return self.execute_sql(*text)


class Sqlite(CachedStatements, SqliteDatabase):
    """One SQLite connection (``:memory:``)."""


class SqlitePool(CachedStatements, PooledSqliteDatabase):
    """SQLite connections lent to one thread at a time."""


class PostgresPool(CachedStatements, PooledPostgresqlDatabase):
    """peewee's PostgreSQL pool without a round trip on every check-out, that
    lends only connections in a clean state.

    peewee sends ``SELECT 1`` before lending an idle connection, to catch one
    the server has dropped: a second round trip on every request. A connection
    given back less than ``ping_after_seconds`` ago is trusted on its local
    state (psycopg's ``closed`` and ``broken``); one idle for longer is still
    pinged, so a database restart during a quiet spell costs no request.
    """

    ping_after_seconds = 10.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}
        self._unclean: set[int] = set()

    def discard_on_return(self, conn) -> None:
        """Close ``conn`` when it is given back instead of lending it again."""
        self._unclean.add(self.conn_key(conn))

    def _can_reuse(self, conn) -> bool:
        if self.conn_key(conn) in self._unclean:
            return False
        return super()._can_reuse(conn)

    def _close(self, conn, close_conn=False):
        self._returned_at[self.conn_key(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _close_raw(self, conn):
        self._returned_at.pop(self.conn_key(conn), None)
        self._unclean.discard(self.conn_key(conn))
        super()._close_raw(conn)

    def _is_closed(self, conn):
        returned = self._returned_at.pop(self.conn_key(conn), None)
        if returned is not None and (
            time.monotonic() - returned < self.ping_after_seconds
        ):
            return conn.closed or conn.broken
        return super()._is_closed(conn)


def make_database(url: str, options: dict | None = None):
    """Build a peewee database from a URL.

    ``sqlite:///relative/or/absolute.db`` or ``postgresql://user@host:port/name``;
    query parameters of a PostgreSQL URL are passed to the driver (for example
    ``?options=-csearch_path%3Dmy_schema``), as are ``options``; for SQLite,
    ``options`` may set the busy ``timeout`` in seconds.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(url[len("sqlite:///") :])
        timeout = (options or {}).get("timeout", BUSY_TIMEOUT_SECONDS)
        if path == ":memory:":  # one connection, or each request sees a new DB
            return Sqlite(path, pragmas=SQLITE_PRAGMAS, timeout=timeout)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Pooled like PostgreSQL: a new connection and its four pragmas on
        # every request cost more than a light page's queries. The pool lends a
        # connection to one thread at a time, so it may move between threads.
        database = SqlitePool(
            path,
            pragmas=SQLITE_PRAGMAS,
            # The pool's own wait for a free connection (it keeps ``timeout``).
            timeout=BUSY_TIMEOUT_SECONDS,
            check_same_thread=False,
            max_connections=32,
            stale_timeout=300,
        )
        database.timeout = timeout  # SQLite's busy timeout, set on each connection
        return database
    if parts.scheme in ("postgres", "postgresql"):
        params = dict(parse_qsl(parts.query))
        params.update(options or {})
        # A pool: opening a PostgreSQL connection per request costs 7-11 ms
        # (connect plus the new backend's catalogue caches). ``close()`` at the
        # end of a request returns the connection to the pool.
        return PostgresPool(
            unquote(parts.path.lstrip("/")),
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            max_connections=int(params.pop("max_connections", 32)),
            stale_timeout=300,
            **params,
        )
    raise ValueError(f"Unsupported database URL scheme: {parts.scheme!r}")


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


def init_app(app) -> None:
    """Bind the proxy and open/close one connection per request."""
    previous = db.obj
    if previous is not None and hasattr(previous, "close_all"):
        previous.close_all()  # a pool of an earlier app (tests build many)
    db.initialize(
        make_database(app.config["DATABASE_URL"], app.config.get("DATABASE_OPTIONS"))
    )

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        # The response is decided by now: a connection that cannot be given
        # back cleanly (its server gone) is dropped, not turned into an error.
        try:
            if not db.is_closed():
                db.close()
        except UNAVAILABLE_ERRORS as error:
            app.logger.warning("database connection dropped on close: %s", error)
            drop_connection()


def drop_connection() -> None:
    """Forget this thread's connection (and any transaction left open on it)
    and close it for good: it does not go back to the pool."""
    database = db.obj
    conn = database._state.conn
    database._state.reset()
    if conn is None:
        return
    try:
        if isinstance(database, PooledDatabase):
            database._close(conn, close_conn=True)
        else:
            conn.close()
    except Exception:  # noqa: BLE001 - it is being thrown away
        pass
