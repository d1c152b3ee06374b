"""Companies, service contracts and the devices they cover."""

from datetime import date, timedelta

from peewee import CharField, DateField, ForeignKeyField, fn

from ..catalogue import get_plan
from ..db import BaseModel, UTCDateTimeField, utcnow
from ..identifiers import normalize_contract_number

EXPIRING_WITHIN = timedelta(days=60)


class Company(BaseModel):
    """A customer, a partner (reseller) or both, identified by its NIP."""

    nip = CharField(max_length=10, unique=True)
    name = CharField(max_length=255)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class Contract(BaseModel):
    """A service contract; ``number`` is the new notation, ``legacy_number`` the old."""

    number = CharField(max_length=40, unique=True)
    legacy_number = CharField(max_length=40, null=True, unique=True)
    customer = ForeignKeyField(Company, backref="contracts")
    partner = ForeignKeyField(Company, null=True, backref="sold_contracts")
    service_code = CharField(max_length=20)
    start_date = DateField()
    end_date = DateField()
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("customer", "end_date"), False),)

    @property
    def needs_site(self) -> bool:
        """Its service ships replacements or comes on site (see ServicePlan)."""
        plan = get_plan(self.service_code)
        return plan is not None and plan.needs_site

    @classmethod
    def numbered(cls, number: str):
        """The contracts whose number, in the new or the legacy notation, is
        ``number`` as typed (any case, surrounding spaces)."""
        number = normalize_contract_number(number)
        return cls.select().where(
            (fn.UPPER(cls.number) == number) | (fn.UPPER(cls.legacy_number) == number)
        )

    def is_active_on(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date

    def status_on(self, day: date) -> str:
        """``active``, ``expiring`` (ends within 60 days), ``expired`` or ``future``."""
        if day > self.end_date:
            return "expired"
        if day < self.start_date:
            return "future"
        if self.end_date - day <= EXPIRING_WITHIN:
            return "expiring"
        return "active"


class Device(BaseModel):
    """A serial number covered by one contract; a serial may be on several."""

    contract = ForeignKeyField(Contract, backref="devices", on_delete="CASCADE")
    serial = CharField(max_length=64, index=True)
    product = CharField(max_length=120, default="")

    class Meta:
        indexes = ((("contract", "serial"), True),)
