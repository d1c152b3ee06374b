"""The import worker's heartbeat: a running import's row gets the time every
few seconds, so a run whose worker was killed (``kill -9``, a lost machine)
is found and marked failed instead of showing "running" for ever."""

from hezo.db import UTCDateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("import_run", "heartbeat_at", UTCDateTimeField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("import_run", "heartbeat_at"))
