"""The e-mail channel: received mail, undeliverable addresses, case mail's Message-ID.

Generated from a schema diff; the utcnow defaults live in the models.
"""
from peewee import *
from hezo.db import UTCDateTimeField


def up(migrator, db):
    class Message(Model):
        class Meta:
            database = db
            table_name = 'message'

    class SupportCase(Model):
        class Meta:
            database = db
            table_name = 'support_case'

    class ReceivedMail(Model):
        message_id = CharField(unique=True)
        folder = CharField(max_length=100)
        uid_validity = BigIntegerField(default=0)
        uid = BigIntegerField(default=0)
        received_at = UTCDateTimeField()
        taken_at = UTCDateTimeField()
        from_address = CharField(max_length=254, default='')
        from_name = CharField(max_length=160, default='')
        subject = CharField(default='')
        body = TextField(default='')
        status = CharField(max_length=16)
        reason = CharField(max_length=200, default='')
        case = ForeignKeyField(SupportCase, null=True)
        filed_as = ForeignKeyField(Message, null=True)
        eml_sha256 = CharField(max_length=64, default='')
        eml_size = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'received_mail'
            indexes = ((('folder', 'uid_validity', 'uid'), False), (('status', 'received_at'), False))
    db.create_tables([ReceivedMail])

    class UndeliverableAddress(Model):
        address = CharField(unique=True, max_length=254)
        first_bounce_at = UTCDateTimeField()
        last_bounce_at = UTCDateTimeField()
        status = CharField(max_length=16, default='')
        diagnostic = CharField(default='')
        class Meta:
            database = db
            table_name = 'undeliverable_address'
    db.create_tables([UndeliverableAddress])

    migrator.migrate(migrator.add_column('outbox_message', 'case_id', ForeignKeyField(SupportCase, field=SupportCase.id, null=True)))
    migrator.migrate(migrator.add_column('outbox_message', 'message_id', CharField(unique=True, null=True)))
    migrator.migrate(migrator.add_column('outbox_message', 'reply_to', CharField(max_length=254, default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('outbox_message', 'outbox_message_message_id'))
    migrator.migrate(migrator.drop_index('outbox_message', 'outbox_message_case_id'))
    migrator.migrate(migrator.drop_column('outbox_message', 'reply_to'))
    migrator.migrate(migrator.drop_column('outbox_message', 'message_id'))
    migrator.migrate(migrator.drop_column('outbox_message', 'case_id'))
    migrator.migrate(migrator.drop_table('undeliverable_address'))
    migrator.migrate(migrator.drop_table('received_mail'))
