"""Requests under the GDPR: a copy of one's data (Arts. 15, 20), erasure (Art. 17)."""

from peewee import CharField, ForeignKeyField, IntegerField, TextField

from ..db import BaseModel, UTCDateTimeField, utcnow
from .accounts import User

#: ``PrivacyRequest.kind``
KINDS = ("export", "erasure")
#: ``PrivacyRequest.status``: an export is pending, then ready (until its
#: ``expires_at``), then expired; an erasure is pending, then done or refused.
STATUSES = ("pending", "ready", "expired", "done", "refused")


class PrivacyRequest(BaseModel):
    user = ForeignKeyField(User, backref="privacy_requests")
    kind = CharField(max_length=16)
    status = CharField(max_length=16, default="pending")
    created_at = UTCDateTimeField(default=utcnow)
    decided_at = UTCDateTimeField(null=True)
    decided_by = ForeignKeyField(User, null=True, backref="privacy_decisions")
    note = TextField(default="")
    # An export's ZIP in the upload folder, by content hash, until expires_at.
    file_sha256 = CharField(max_length=64, default="")
    file_size = IntegerField(default=0)
    expires_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("kind", "status"), False),)
