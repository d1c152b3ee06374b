"""Queueing e-mail: written with the change that caused it.

``queue_mail`` renders a plain-text template and inserts an ``OutboxMessage`` in
the caller's transaction, so a rolled-back change sends nothing and a committed
one is never lost; ``hezo.mail.delivery`` sends it later.

Message bodies may hold one-time links: they are never logged. Logs name a
message by its id and the recipient's domain only (``log_domain``).
"""

from __future__ import annotations

import logging
import re
from email.utils import parseaddr

from flask import current_app, has_app_context, render_template

from .. import settings
from ..db import utcnow
from ..i18n import in_language
from ..models.audit import OutboxMessage
from ..models.cases import SupportCase
from . import threads

log = logging.getLogger(__name__)

_TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
# CR, LF and every other character that may end a line or hide in a header.
_FORBIDDEN_IN_ADDRESS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def queue_mail(
    recipient: str,
    template: str,
    language: str,
    *,
    dedupe_key: str | None = None,
    **context,
) -> OutboxMessage | None:
    """Render ``templates/mail/<template>.txt`` in ``language`` and queue it.

    The rendered template's first line is the subject, the second line must be
    blank and the rest is the plain-text body. ``context`` goes to the template
    (``config`` is there as in every Flask template). Mail about a case
    (``case=`` in the context) can be answered: its subject names the case, its
    body starts with the reply line, and it has a Message-ID of ours and a
    ``Reply-To`` of the help mailbox (``mail.threads``).

    Needs an application context (a request, a CLI command or
    ``app.app_context()``) and a database connection. It opens no transaction
    and never commits: call it inside the ``db.atomic()`` block of the change
    that causes the mail, so both are written or neither is.

    With ``dedupe_key``, a message with that key already in the outbox (sent or
    not) makes this a no-op returning ``None``; the check is the INSERT itself
    (``ON CONFLICT DO NOTHING``), so concurrent callers cannot both queue it.

    Raises ``ValueError`` for a recipient with CR/LF or other control
    characters, an unknown language or a malformed template.
    """
    _check_recipient(recipient)
    if dedupe_key is not None and not 0 < len(dedupe_key) <= 128:
        raise ValueError("dedupe_key must have 1 to 128 characters")
    subject, body = render_mail(template, language, **context)
    now = utcnow()
    case = context.get("case")
    thread = threads.thread_values(case) if isinstance(case, SupportCase) else {}
    values = {
        OutboxMessage.created_at: now,
        OutboxMessage.recipient: recipient,
        OutboxMessage.subject: subject,
        OutboxMessage.body_text: body,
        OutboxMessage.dedupe_key: dedupe_key,
        OutboxMessage.attempts: 0,
        OutboxMessage.next_attempt_at: now,
        OutboxMessage.last_error: "",
        **{getattr(OutboxMessage, k): v for k, v in thread.items()},
    }
    if dedupe_key is None:
        message = OutboxMessage.create(**{f.name: v for f, v in values.items()})
    else:
        inserted = (
            OutboxMessage.insert(values)
            .on_conflict(action="NOTHING", conflict_target=[OutboxMessage.dedupe_key])
            .as_rowcount()
            .execute()
        )
        if inserted != 1:
            log.info(
                "outbox: %s to @%s already queued (%s), not again",
                template,
                log_domain(recipient),
                dedupe_key,
            )
            return None
        message = OutboxMessage.get(OutboxMessage.dedupe_key == dedupe_key)
    log.debug(
        "outbox: queued message %s (%s) to @%s",
        message.id,
        template,
        log_domain(recipient),
    )
    return message


def queue_staff_mail(
    template: str, *, dedupe_key: str | None = None, **context
) -> OutboxMessage | None:
    """``queue_mail`` to the engineers' team address (``ENGINEERS_EMAIL``), in
    Polish, the engineers' language; same transaction rules and dedupe."""
    return queue_mail(
        settings.value("ENGINEERS_EMAIL"),
        template,
        "pl",
        dedupe_key=dedupe_key,
        **context,
    )


def render_mail(template: str, language: str, **context) -> tuple[str, str]:
    """Render a mail template in ``language``; returns ``(subject, body)``.

    The locale (and ``g.lang``, which ``url_for`` and ``current_language()``
    follow) is switched for the rendering only, also inside a request in
    another language.
    """
    if not has_app_context():
        raise RuntimeError("rendering mail needs an application context")
    if not _TEMPLATE_NAME.match(template):
        raise ValueError(f"bad mail template name: {template!r}")
    if language not in current_app.config["LANGUAGES"]:
        raise ValueError(f"unsupported language: {language!r}")
    case = context.get("case")
    answerable = isinstance(case, SupportCase) and bool(case.number)
    with in_language(language):
        text = render_template(f"mail/{template}.txt", **context)
        marker = threads.reply_marker() if answerable else ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) < 3 or lines[1].strip():
        raise ValueError(
            f"mail/{template}.txt must render a subject line, a blank line, a body"
        )
    # Any whitespace (including line separators from the context) becomes one space.
    subject = " ".join(lines[0].split())
    if answerable:
        subject = threads.case_subject(subject, case.number)
    max_subject = OutboxMessage.subject.max_length or 255
    if len(subject) > max_subject:
        subject = subject[: max_subject - 1] + "…"
    body = "\n".join(lines[2:]).strip("\n").rstrip() + "\n"
    if not subject or not body.strip():
        raise ValueError(f"mail/{template}.txt rendered an empty subject or body")
    if marker:
        body = f"{marker}\n\n{body}"
    return subject, body


def _check_recipient(recipient: str) -> None:
    if not isinstance(recipient, str) or not recipient:
        raise ValueError("recipient is required")
    if _FORBIDDEN_IN_ADDRESS.search(recipient):
        raise ValueError("recipient contains a line break or control character")
    if len(recipient) > (OutboxMessage.recipient.max_length or 254):
        raise ValueError("recipient is too long")
    if "@" not in recipient:
        raise ValueError("recipient is not an e-mail address")


def log_domain(address: str) -> str:
    """The domain of ``address``: how logs name a recipient (never in full)."""
    return parseaddr(address)[1].rpartition("@")[2] or "?"
