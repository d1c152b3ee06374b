"""GDPR rights: requests for a copy of one's data or erasure, and the account's
erasure and inactivity-warning moments."""

from peewee import CharField, ForeignKeyField, IntegerField, Model, TextField

from hezo.db import UTCDateTimeField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class PrivacyRequest(Model):
        user = ForeignKeyField(User, field=User.id)
        kind = CharField(max_length=16)
        status = CharField(max_length=16, default="pending")
        created_at = UTCDateTimeField()
        decided_at = UTCDateTimeField(null=True)
        decided_by = ForeignKeyField(User, field=User.id, null=True)
        note = TextField(default="")
        file_sha256 = CharField(max_length=64, default="")
        file_size = IntegerField(default=0)
        expires_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "privacy_request"
            indexes = ((("kind", "status"), False),)

    db.create_tables([PrivacyRequest])
    migrator.migrate(
        migrator.add_column("user", "erased_at", UTCDateTimeField(null=True)),
        migrator.add_column(
            "user", "inactivity_warned_at", UTCDateTimeField(null=True)
        ),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("user", "inactivity_warned_at"),
        migrator.drop_column("user", "erased_at"),
        migrator.drop_table("privacy_request"),
    )
