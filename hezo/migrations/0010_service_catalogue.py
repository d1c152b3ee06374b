"""The service catalogue in the database: the nine packages of
``catalogue.toml`` as seed rows, custom variants beside them; the office's
closed days; and each case's clock terms, fixed when it opens."""

from peewee import BooleanField, CharField, DateField, IntegerField, Model, TextField

from hezo.db import UTCDateTimeField, utcnow


def up(migrator, db):
    from hezo.catalogue import PACKAGES

    class ServiceVariant(Model):
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

        class Meta:
            database = db
            table_name = "service_variant"

    class ClosedDay(Model):
        day = DateField(unique=True)
        note = CharField(max_length=120, default="")
        created_at = UTCDateTimeField(default=utcnow)

        class Meta:
            database = db
            table_name = "closed_day"

    db.create_tables([ServiceVariant, ClosedDay])
    now = utcnow()
    for plan in PACKAGES.values():
        ServiceVariant.create(
            code=plan.code,
            name=plan.name,
            name_pl=plan.name_pl,
            package=True,
            support=plan.support,
            onsite=plan.onsite,
            days=plan.hours.days,
            opens=plan.hours.opens,
            closes=plan.hours.closes,
            holidays=plan.hours.holidays,
            response_hours=plan.response_hours,
            replacement=plan.replacement,
            created_at=now,
            updated_at=now,
        )
    migrator.migrate(
        migrator.add_column("support_case", "service_terms", TextField(null=True))
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("support_case", "service_terms"),
        migrator.drop_table("closed_day"),
        migrator.drop_table("service_variant"),
    )
