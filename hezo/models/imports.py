"""Imports run from the administrators' console (``hezo.imports.runs``)."""

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from ..db import BaseModel, UTCDateTimeField, utcnow
from .accounts import User

#: ``ImportRun.kind``: the ERP contract register CSV, the legacy portal export.
KINDS = ("contracts", "legacy")
#: ``ImportRun.state``: queued by the console, claimed by one worker, ended.
STATES = ("queued", "running", "done", "failed")


class ImportRun(BaseModel):
    """One import of an uploaded file: a dry run, or the real run that applies
    a dry run (``applied_from``; unique, so a dry run is applied once)."""

    kind = CharField(max_length=16)
    dry_run = BooleanField(default=True)
    state = CharField(max_length=16, default="queued")
    file_name = CharField(max_length=200)  # as uploaded (cleaned)
    stored_name = CharField(max_length=80)  # in the instance's imports folder
    file_size = IntegerField(default=0)
    created_by = ForeignKeyField(User, backref="import_runs")
    created_at = UTCDateTimeField(default=utcnow)
    started_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)
    # Written with the progress while the run runs; the claiming worker's
    # "host:pid" (hezo.imports.runs.seems_lost).
    heartbeat_at = UTCDateTimeField(null=True)
    worker = CharField(max_length=120, default="")
    progress_done = IntegerField(default=0)
    progress_total = IntegerField(default=0)
    report = TextField(default="")  # JSON, see hezo.imports.runs.report_of
    error = TextField(default="")
    applied_from = ForeignKeyField("self", null=True, unique=True, backref="applied")

    class Meta:
        table_name = "import_run"
        indexes = ((("state", "id"), False),)
