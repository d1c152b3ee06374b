"""Partners signing in with V-ZAM (OpenID Connect): the provider's person
(issuer + ``sub``) linked to an account; cases a partner reported on its
customer's behalf; the index of partners' reads of a customer's contracts."""

from peewee import CharField, ForeignKeyField, Model

from hezo.db import UTCDateTimeField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class ExternalIdentity(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        issuer = CharField(max_length=255)
        subject = CharField(max_length=255)
        created_at = UTCDateTimeField()
        last_login_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "external_identity"
            indexes = ((("issuer", "subject"), True),)

    db.create_tables([ExternalIdentity])

    class Company(Model):
        class Meta:
            database = db
            table_name = "company"

    migrator.migrate(
        migrator.add_index("audit_event", ("object_type", "object_id"), False)
    )
    migrator.migrate(
        migrator.add_column(
            "support_case",
            "reporting_partner_id",
            ForeignKeyField(Company, null=True, field=Company.id),
        )
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("support_case", "reporting_partner_id"))
    migrator.migrate(
        migrator.drop_index("audit_event", "audit_event_object_type_object_id")
    )
    migrator.migrate(migrator.drop_table("external_identity"))
