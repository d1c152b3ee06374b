"""Settings in the database: contact facts an administrator changed in the
console, and the version number each process checks its cached copy against."""

from peewee import CharField, IntegerField, Model, TextField

from hezo.db import UTCDateTimeField


def up(migrator, db):
    class SiteSetting(Model):
        name = CharField(max_length=40, primary_key=True)
        value = TextField()
        changed_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "site_setting"

    class SettingsVersion(Model):
        number = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "settings_version"

    db.create_tables([SiteSetting, SettingsVersion])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("settings_version"))
    migrator.migrate(migrator.drop_table("site_setting"))
