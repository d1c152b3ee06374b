"""Audit trail, e-mail outbox and messages from the contact form."""

from peewee import CharField, ForeignKeyField, IntegerField, TextField

from ..db import BaseModel, UTCDateTimeField, utcnow
from .accounts import User
from .cases import SupportCase


class AuditEvent(BaseModel):
    """Who read or changed what: partner reads, exports, consent, TOTP resets..."""

    created_at = UTCDateTimeField(default=utcnow, index=True)
    actor = ForeignKeyField(User, null=True, backref="audit_events")
    action = CharField(max_length=40)
    case = ForeignKeyField(SupportCase, null=True, backref="audit_events")
    object_type = CharField(max_length=24, default="")
    object_id = CharField(max_length=64, default="")
    ip = CharField(max_length=45, default="")
    details = TextField(default="")

    class Meta:
        indexes = (
            (("case", "action"), False),
            # A customer's sharing page: partners' reads of its contracts.
            (("object_type", "object_id"), False),
        )


class OutboxMessage(BaseModel):
    """An e-mail written in the transaction that caused it, sent by the worker."""

    created_at = UTCDateTimeField(default=utcnow)
    recipient = CharField(max_length=254)
    subject = CharField(max_length=255)
    body_text = TextField()
    # Set for messages that must never go twice (reminders): unique.
    dedupe_key = CharField(max_length=128, null=True, unique=True)
    attempts = IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)
    last_error = TextField(default="")
    # Mail about a case: its Message-ID (replies are matched against it) and
    # the address replies go to (the help mailbox).
    case = ForeignKeyField(SupportCase, null=True, backref="outbox_messages")
    message_id = CharField(max_length=255, null=True, unique=True)
    reply_to = CharField(max_length=254, default="")

    class Meta:
        indexes = ((("sent_at", "next_attempt_at"), False),)


class ContactRequest(BaseModel):
    created_at = UTCDateTimeField(default=utcnow)
    name = CharField(max_length=160)
    company = CharField(max_length=255, default="")
    nip = CharField(max_length=16, default="")
    email = CharField(max_length=254)
    phone = CharField(max_length=32, default="")
    message = TextField()
