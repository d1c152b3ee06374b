"""Settings an administrator changed in the console (``hezo.settings``)."""

from peewee import CharField, IntegerField, TextField

from ..db import BaseModel, UTCDateTimeField, utcnow


class SiteSetting(BaseModel):
    """A value saved in the console; it wins over the configuration's
    default. No row: the default applies (clearing a value deletes its row)."""

    name = CharField(max_length=40, primary_key=True)
    value = TextField()
    changed_at = UTCDateTimeField(default=utcnow)


class SettingsVersion(BaseModel):
    """One row (id 1), its ``number`` raised by every change: each process
    compares it with the number its cached values were read at."""

    number = IntegerField(default=0)
