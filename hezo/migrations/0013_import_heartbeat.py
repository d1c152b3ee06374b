"""The import worker's signs of life: the claiming worker ("host:pid") and a
heartbeat written with the progress, so a run whose worker was killed
(``kill -9``, a lost machine) is found and marked failed instead of showing
"running" for ever."""

from peewee import CharField

from hezo.db import UTCDateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("import_run", "heartbeat_at", UTCDateTimeField(null=True)),
        migrator.add_column("import_run", "worker", CharField(max_length=120, default="")),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("import_run", "worker"),
        migrator.drop_column("import_run", "heartbeat_at"),
    )
