"""Drafts from the e-mail channel: a registered customer's new thread waits,
as a received mail with status "draft", for that customer to confirm it in
the portal with a contract and a serial; ``user`` says whose draft it is."""

from peewee import ForeignKeyField, Model


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    migrator.migrate(
        migrator.add_column(
            "received_mail",
            "user_id",
            ForeignKeyField(User, null=True, field=User.id),
        )
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_index("received_mail", "received_mail_user_id"))
    migrator.migrate(migrator.drop_column("received_mail", "user_id"))
