"""The e-mail channel: mail taken from the help mailbox, addresses that bounce."""

from peewee import BigIntegerField, CharField, ForeignKeyField, IntegerField, TextField

from ..db import BaseModel, UTCDateTimeField, utcnow
from .accounts import User
from .cases import Message, SupportCase

#: What the intake made of a message (``ReceivedMail.status``).
MAIL_STATUSES = (
    "filed",  # a reply written into its case
    "triage",  # waits for an engineer: a new thread, or a sender the case does not know
    "linked",  # an engineer opened a case from it
    "answered",  # an engineer asked the sender to register
    "ignored",  # auto-reply, bulk, our own mail: recorded, never answered
    "bounce",  # a delivery status notification; its address is marked undeliverable
    "rejected",  # a forged reply: names no mail we sent to its sender, or failed DKIM
    "draft",  # a registered customer's new thread: waits for them to confirm it
    "discarded",  # a draft its customer discarded
)


class ReceivedMail(BaseModel):
    """One message of the help mailbox, recorded exactly once by its Message-ID.

    The row commits in the transaction that files the message, so a crash
    before that commit leaves the mail in the inbox to be taken again, and a
    crash after it finds the row and only moves the mail on.
    """

    message_id = CharField(max_length=255, unique=True)
    folder = CharField(max_length=100)
    uid_validity = BigIntegerField(default=0)
    uid = BigIntegerField(default=0)
    received_at = UTCDateTimeField()
    taken_at = UTCDateTimeField(default=utcnow)
    from_address = CharField(max_length=254, default="")
    from_name = CharField(max_length=160, default="")
    subject = CharField(max_length=255, default="")
    # The new text of the message (quoted history and signature cut).
    body = TextField(default="")
    status = CharField(max_length=16)
    reason = CharField(max_length=200, default="")
    case = ForeignKeyField(SupportCase, null=True, backref="received_mail")
    # The case message it became (a reply filed, or the first message of a case).
    filed_as = ForeignKeyField(Message, null=True, backref="received_mail")
    # The original message (.eml) in the upload folder, by content hash.
    eml_sha256 = CharField(max_length=64, default="")
    eml_size = IntegerField(default=0)
    # A draft's customer (the registered user who wrote it): only they see it.
    user = ForeignKeyField(User, null=True, backref="mail_drafts")

    class Meta:
        indexes = (
            (("folder", "uid_validity", "uid"), False),
            (("status", "received_at"), False),
        )


class UndeliverableAddress(BaseModel):
    """An address a delivery status notification reported as failed."""

    address = CharField(max_length=254, unique=True)
    first_bounce_at = UTCDateTimeField(default=utcnow)
    last_bounce_at = UTCDateTimeField(default=utcnow)
    status = CharField(max_length=16, default="")
    diagnostic = CharField(max_length=255, default="")
