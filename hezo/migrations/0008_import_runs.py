"""Imports in the browser: one row per import run (issue 20)."""

from peewee import (
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from hezo.db import UTCDateTimeField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class ImportRun(Model):
        kind = CharField(max_length=16)
        dry_run = BooleanField(default=True)
        state = CharField(max_length=16, default="queued")
        file_name = CharField(max_length=200)
        stored_name = CharField(max_length=80)
        file_size = IntegerField(default=0)
        created_by = ForeignKeyField(User)
        created_at = UTCDateTimeField()
        started_at = UTCDateTimeField(null=True)
        finished_at = UTCDateTimeField(null=True)
        progress_done = IntegerField(default=0)
        progress_total = IntegerField(default=0)
        report = TextField(default="")
        error = TextField(default="")
        applied_from = ForeignKeyField("self", null=True, unique=True)

        class Meta:
            database = db
            table_name = "import_run"
            indexes = ((("state", "id"), False),)

    db.create_tables([ImportRun])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("import_run"))
