"""Profile and watchers: a user's role in their company, the new address an
e-mail change link confirms, a case's contact among the customer's colleagues
and the colleagues watching a case."""

from peewee import CharField, ForeignKeyField, Model

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

    class CaseWatcher(Model):
        case = ForeignKeyField(SupportCase, on_delete="CASCADE")
        user = ForeignKeyField(User, on_delete="CASCADE")
        added_by = ForeignKeyField(User, null=True)
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "case_watcher"
            indexes = ((("case", "user"), True),)

    migrator.migrate(
        migrator.add_column("user", "position", CharField(max_length=80, default="")),
        migrator.add_column(
            "auth_token", "new_email", CharField(max_length=254, default="")
        ),
        migrator.add_column(
            "support_case",
            "contact_user_id",
            ForeignKeyField(User, null=True, field=User.id),
        ),
    )
    db.create_tables([CaseWatcher])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("case_watcher"))
    migrator.migrate(
        migrator.drop_index("support_case", "support_case_contact_user_id")
    )
    migrator.migrate(
        migrator.drop_column("support_case", "contact_user_id"),
        migrator.drop_column("auth_token", "new_email"),
        migrator.drop_column("user", "position"),
    )
