"""Closing the loop: the customer's one satisfaction answer per closed case."""

from peewee import CharField, ForeignKeyField, IntegerField, Model, TextField

from hezo.db import UTCDateTimeField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class SupportCase(Model):
        class Meta:
            database = db
            table_name = "support_case"

    class CaseSatisfaction(Model):
        case = ForeignKeyField(SupportCase, unique=True, on_delete="CASCADE")
        rating = IntegerField()
        comment = TextField(default="")
        author = ForeignKeyField(User, null=True)
        engineer = ForeignKeyField(User, null=True)
        service_code = CharField(max_length=20)
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "case_satisfaction"
            indexes = ((("created_at",), False),)

    db.create_tables([CaseSatisfaction])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("case_satisfaction"))
