"""One received e-mail as the portal keeps it: parsed, its attachments through
the upload checks, its .eml beside a case message. Nothing here knows cases'
rules, so the case pages (a customer's draft) and the intake share it without
an import cycle (tests/test_imports.py)."""

from __future__ import annotations

import email
import email.policy
import io
from email.message import EmailMessage

from werkzeug.datastructures import FileStorage

from ..attachments import StagedFile, UploadError, discard_staged, stage_upload
from ..models import Attachment

EML_NAME = "message.eml"


class MailTaken(Exception):
    """The message was handled first elsewhere (another engineer, another tab)."""


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def mail_attachments(message: EmailMessage) -> tuple[list[StagedFile], list[str]]:
    """The message's attachments through the upload checks: (staged, refusals)."""
    staged, refused = [], []
    try:
        for part in message.iter_attachments():
            name = part.get_filename() or "attachment"
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue  # an attached message: it stays in the .eml
            upload = FileStorage(stream=io.BytesIO(data), filename=name)
            try:
                staged.append(stage_upload(upload))
            except UploadError as exc:
                refused.append(str(exc))
    except BaseException:
        discard_staged(staged)
        raise
    return staged, refused


def attach_eml(row, case, message, user) -> None:
    """The original message (.eml) beside the case message, for the record."""
    Attachment.create(
        case=case,
        message=message,
        filename=EML_NAME,
        content_type="message/rfc822",
        size=row.eml_size,
        sha256=row.eml_sha256,
        kind="email",
        uploaded_by=user,
    )
