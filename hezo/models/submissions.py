"""One-time submission keys of forms that create something (``hezo.submissions``)."""

from peewee import CharField, IntegerField, TextField

from ..db import BaseModel, UTCDateTimeField, utcnow


class SubmissionKey(BaseModel):
    """A key claimed by the write it caused, with the answer that write got.

    ``account`` is the signed-in user's id (0 for anonymous forms): a key is
    unique per account, so another account's post of the same key neither
    replays this answer nor is blocked by it. Not a foreign key, since NULLs
    would not collide in the unique index. Kept for a day.
    """

    account = IntegerField()
    key = CharField(max_length=80)
    created_at = UTCDateTimeField(default=utcnow, index=True)
    outcome = TextField(default="")  # JSON: status, headers, body, flashes

    class Meta:
        indexes = ((("account", "key"), True),)
