"""The statement cache: selects whose SQL text is built once, not per request.

peewee builds a statement's text anew at every execution, about 10 us a
selected column. For the busiest pages' reads that is more than the pages'
speed bars leave (bench/PAGES.md): the user loaded on every request and the
case page's six selects (2-3 ms of building for 0.2 ms of SQL), then the
case list, the queue, the watchers panel and the menu's counts (README,
"Reads"). Only those use this module, and each says so where it is
declared; every other query is plain peewee.

The interface, all of it::

    STATEMENT = Statement(query)        # a peewee select with param("name")s
    rows = STATEMENT.bind(name=value)   # iterate it (or .first()), or fetch_all it
    rows = STATEMENT.bind_from(values)  # the same, its parameters out of a dict

``bind()`` takes exactly the statement's parameters (a missing or unknown one
raises ``TypeError``) and gives a statement that runs once, with the cached
text: a copy of the query (``clone()``, hidden, so that nothing can be chained
onto a text already built) that the database's ``execute()`` (``hezo.db``)
recognises through ``cached_text()``; the values go as parameters, never into
the text. Rows are read by peewee itself, as for any select. Only public
peewee API: ``Value``, ``Node.clone()``, ``Query.sql()``, ``Select.execute()``,
``Database.get_sql_context()`` and ``Database.execute()``.
"""

from peewee import Value


class _Param:
    """Where a value goes in a statement's parameters."""

    __slots__ = ("name", "convert")

    def __init__(self, name: str, convert):
        self.name, self.convert = name, convert


def param(name: str, field=None) -> Value:
    """The value ``name`` of a ``Statement``; given a ``field``, it is stored
    as that column's values are (dates, say)."""
    return Value(_Param(name, field and field.db_value), converter=False)


class Statement:
    """A select with ``param()``s, its text built once per kind of database.

    Build it at first use (a ``functools.cache``d function), when the
    database is bound: its parameters are read from the query's text.
    """

    __slots__ = ("query", "names", "_texts")

    def __init__(self, query):
        self.query = query
        self.names = frozenset(p.name for p in query.sql()[1] if type(p) is _Param)
        self._texts: dict[type, tuple[str, list]] = {}

    def bind(self, **values) -> "Bound":
        """The statement with ``values`` for its parameters."""
        if values.keys() != self.names:
            raise TypeError(f"parameters {sorted(self.names)}, given {sorted(values)}")
        query = self.query.clone()  # never run itself: each use runs a copy
        query.cached_statement = (self, values)
        return Bound(query)

    def bind_from(self, values: dict) -> "Bound":
        """The statement with its parameters taken from ``values``, which may
        hold more (one set of values for several statements)."""
        return self.bind(**{name: values[name] for name in self.names})

    def text(self, database, values: dict) -> tuple[str, list]:
        """The SQL text for ``database`` and the parameters with ``values``."""
        text = self._texts.get(type(database))  # quoting and placeholders differ
        if text is None:
            text = self._texts[type(database)] = (
                database.get_sql_context().sql(self.query).query()
            )
        sql, params = text
        return sql, [_fill(p, values) if type(p) is _Param else p for p in params]


class Bound:
    """A bound statement: run at most once, its rows those of the query."""

    __slots__ = ("_query",)

    def __init__(self, query):
        self._query = query

    def execute(self):
        """Run it (on PostgreSQL in a pipeline: see ``hezo.db.fetch_all``)."""
        return self._query.execute()

    def __iter__(self):
        return iter(self._query.execute())

    def first(self):
        """The first row, or None, all rows read (a statement left half-read
        would keep SQLite's snapshot of the database open)."""
        rows = list(self)
        return rows[0] if rows else None


def _fill(placeholder: _Param, values: dict):
    value = values[placeholder.name]
    return value if placeholder.convert is None else placeholder.convert(value)


def cached_text(database, query) -> tuple[str, list] | None:
    """The text and parameters of ``query`` if it is a bound ``Statement``'s,
    else None (peewee builds it as usual)."""
    bound = getattr(query, "cached_statement", None)
    if bound is None:
        return None
    statement, values = bound
    return statement.text(database, values)
