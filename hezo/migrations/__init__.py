"""The schema history: numbered migrations (``0001_initial.py``, ...) applied
in order by peewee's runner (``playhouse.migrations``, table
``schema_migration``); only ``[0-9]*.py`` files are migrations."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent


def migrate_database() -> list[str]:
    """Apply pending schema migrations; returns the names applied."""
    from playhouse.migrations import Runner

    from ..db import db

    return Runner(db.obj, str(MIGRATIONS_DIR)).up()
