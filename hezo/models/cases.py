"""Support cases (zgłoszenia), their dialogue, files, history and consent."""

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from ..db import BaseModel, UTCDateTimeField, utcnow
from .accounts import User
from .companies import Company, Contract, Device

STATUSES = (
    "new",
    "in_verification",
    "waiting_for_customer",
    "resolved",
    "validated",
    "replacement_sent",
    "awaiting_return",
    "closed",
)
OPEN_STATUSES = STATUSES[:3] + STATUSES[4:7]
SEVERITIES = ("critical", "major", "minor")
CHANNELS = ("portal", "phone", "email", "migrated")


class SupportCase(BaseModel):
    number = CharField(max_length=24, unique=True)
    company = ForeignKeyField(Company, backref="cases")
    contract = ForeignKeyField(Contract, backref="cases")
    device = ForeignKeyField(Device, backref="cases")
    subject = CharField(max_length=200)
    description = TextField(default="")
    severity = CharField(max_length=16, default="major")
    channel = CharField(max_length=16, default="portal")
    status = CharField(max_length=24, default="new")
    # Mirrors the latest ConsentEvent, so the partner's list is one indexed query.
    is_shared = BooleanField(default=False)
    reporter = ForeignKeyField(User, null=True, backref="reported_cases")
    # The partner company that reported the case on its customer's behalf (on
    # a contract it sold): it sees and answers the case without the
    # customer's consent, which rules only the cases the customer reported.
    reporting_partner = ForeignKeyField(
        Company, null=True, backref="partner_reported_cases"
    )
    # The colleague the customer handed the case to: told of it instead of
    # the reporter (hezo.cases.watchers); None while the reporter is.
    contact_user = ForeignKeyField(User, null=True, backref="contact_cases")
    contact_name = CharField(max_length=160, default="")
    contact_email = CharField(max_length=254, default="")
    contact_phone = CharField(max_length=32, default="")
    assignee = ForeignKeyField(User, null=True, backref="assigned_cases")
    legacy_id = CharField(max_length=40, null=True, unique=True)
    reported_at = UTCDateTimeField(default=utcnow)
    response_due_at = UTCDateTimeField(null=True)
    first_response_at = UTCDateTimeField(null=True)
    validated_at = UTCDateTimeField(null=True)
    delivery_due_at = UTCDateTimeField(null=True)
    shipped_at = UTCDateTimeField(null=True)
    carrier = CharField(max_length=60, default="")
    waybill = CharField(max_length=60, default="")
    delivered_at = UTCDateTimeField(null=True)
    return_due_at = UTCDateTimeField(null=True)
    returned_at = UTCDateTimeField(null=True)
    return_waybill = CharField(max_length=60, default="")
    # Where a replacement goes or an engineer comes, and whom they meet there
    # (cases on services that ship or come on site; the customer may change
    # them until the replacement is sent).
    site_address = TextField(default="")
    site_contact_name = CharField(max_length=160, default="")
    site_contact_phone = CharField(max_length=32, default="")
    # The earliest running clock (response, delivery or return); None when no
    # clock runs (answered and not validated, waiting for the customer, closed).
    next_due_at = UTCDateTimeField(null=True)
    paused_at = UTCDateTimeField(null=True)
    paused_seconds = IntegerField(default=0)
    # The clock terms of the contract's service when the case opened
    # (``ServicePlan.terms``): its clocks keep them whatever the catalogue
    # says later. None on cases from before and on rows written without it
    # (bench/gen_workspace.py): they follow the catalogue.
    service_terms = TextField(null=True)
    escalated_at = UTCDateTimeField(null=True)
    escalation_reason = TextField(default="")
    # Set by a customer's (or partner's) message, cleared by an engineer's
    # answer: the queue's "customer replied" mark.
    customer_replied_at = UTCDateTimeField(null=True)
    # The earlier case this one continues (a reply to a case settled too long ago).
    follows = ForeignKeyField("self", null=True, backref="followed_by")
    last_activity_at = UTCDateTimeField(default=utcnow)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("company", "last_activity_at"), False),
            # A customer's case counts (all, open) from the index alone.
            (("company", "status"), False),
            (("status", "response_due_at"), False),
            (("status", "next_due_at"), False),
            (("next_due_at", "severity"), False),
            (("is_shared", "contract"), False),
            # Service-level reports read one month of cases (migration 0011).
            (("reported_at",), False),
        )


class Message(BaseModel):
    case = ForeignKeyField(SupportCase, backref="messages", on_delete="CASCADE")
    author = ForeignKeyField(User, null=True, backref="messages")
    author_name = CharField(max_length=160)
    body = TextField()
    is_internal = BooleanField(default=False)
    is_from_staff = BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("case", "created_at"), False),)


class Attachment(BaseModel):
    """A file of a case, stored once by content hash under the upload folder."""

    case = ForeignKeyField(SupportCase, backref="attachments", on_delete="CASCADE")
    message = ForeignKeyField(Message, null=True, backref="attachments")
    filename = CharField(max_length=255)
    content_type = CharField(max_length=100)
    size = IntegerField()
    sha256 = CharField(max_length=64, index=True)
    kind = CharField(max_length=16, default="upload")  # upload | legacy_dialogue
    uploaded_by = ForeignKeyField(User, null=True)
    created_at = UTCDateTimeField(default=utcnow)


class StatusChange(BaseModel):
    case = ForeignKeyField(SupportCase, backref="status_changes", on_delete="CASCADE")
    from_status = CharField(max_length=24, default="")
    to_status = CharField(max_length=24)
    actor = ForeignKeyField(User, null=True)
    note = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)


class ConsentEvent(BaseModel):
    """Append-only evidence of partner-access consent for one case (GDPR Art. 7)."""

    case = ForeignKeyField(SupportCase, backref="consent_events", on_delete="CASCADE")
    partner = ForeignKeyField(Company)
    is_granted = BooleanField()
    actor = ForeignKeyField(User, null=True)
    text_version = CharField(max_length=16)
    via = CharField(max_length=24)
    created_at = UTCDateTimeField(default=utcnow)


class CaseWatcher(BaseModel):
    """A colleague of the customer company told of a case like its contact."""

    case = ForeignKeyField(SupportCase, backref="watchers", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="watched_cases", on_delete="CASCADE")
    added_by = ForeignKeyField(User, null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("case", "user"), True),)


class CaseSatisfaction(BaseModel):
    """The customer's one answer, after a case was closed, to "how satisfied
    are you" (1–5, an optional comment): one per case (the unique case, so
    two answers at the same moment cannot both be kept). The engineer and the
    service are those of the case when it was answered, for staff's results."""

    case = ForeignKeyField(
        SupportCase, unique=True, backref="satisfaction", on_delete="CASCADE"
    )
    rating = IntegerField()
    comment = TextField(default="")
    author = ForeignKeyField(User, null=True)
    engineer = ForeignKeyField(User, null=True)
    service_code = CharField(max_length=20)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("created_at",), False),)
