"""The service catalogue's rows (``hezo/catalogue.py`` reads them through its
cache) and the office's closed days."""

from peewee import BooleanField, CharField, DateField, IntegerField

from ..db import BaseModel, UTCDateTimeField, utcnow


class ServiceVariant(BaseModel):
    """A package as sold (``package``: seeded, read-only in the console) or a
    custom time variant. Its request window is ``days`` (ISO weekdays, e.g.
    ``12345``) from ``opens`` to ``closes`` o'clock Warsaw time; with
    ``holidays`` the window is closed on public holidays and closed days.
    ``replacement`` is ``""``, ``"NBD"`` or ``"<n>H"``."""

    code = CharField(max_length=20, unique=True)
    name = CharField(max_length=160)
    name_pl = CharField(max_length=160)
    package = BooleanField(default=False)
    support = BooleanField(default=False)
    onsite = BooleanField(default=False)
    days = CharField(max_length=7, default="12345")
    opens = IntegerField(default=9)
    closes = IntegerField(default=17)
    holidays = BooleanField(default=True)
    response_hours = IntegerField(default=1)
    replacement = CharField(max_length=8, default="")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class ClosedDay(BaseModel):
    """A day the office is closed beyond the public holidays."""

    day = DateField(unique=True)
    note = CharField(max_length=120, default="")
    created_at = UTCDateTimeField(default=utcnow)
