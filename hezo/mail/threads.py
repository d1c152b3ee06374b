"""Threading: case mail that can be answered, and the answer's new text.

Mail about a case (``queue_mail(..., case=case)``) gets the case number in its
subject, a Message-ID of ours that is stored with the outbox row, a
``Reply-To`` of the help mailbox (``MAIL_REPLY_TO``) and a first line saying
where to write the reply. A reply that comes back names that Message-ID in
``In-Reply-To``/``References``; ``reply_text`` keeps only what was written
above that line (and no signature), the rest is history the case has already.
"""

from __future__ import annotations

import re
import secrets
from email.utils import parseaddr

from flask import current_app
from flask_babel import gettext as _
from mailparser_reply import EmailReplyParser

from .. import settings

#: A case number anywhere in a subject ("Re: [ZG-2026-00012] ...").
CASE_NUMBER = re.compile(r"\bZG-\d{4}-\d{3,}\b")
#: The reply line, whatever language it was written in: ``##- … -##``.
MARKER = re.compile(r"^[\s>]*##-.*-##\s*$", re.MULTILINE)
#: "On <date>, <someone> wrote:" and the like, left just above the marker.
_ATTRIBUTION = re.compile(r"(?:^|\n)[^\n]*\S:[ \t]*\n?[\s>]*\Z")
#: The message ids of ``References``/``In-Reply-To`` (RFC 5322 msg-id).
_MSG_ID = re.compile(r"<[^<>\s]{1,250}>")
#: The signature separator of RFC 3676 ("-- "; some clients trim its space).
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_PARSER = EmailReplyParser(languages=["en", "pl", "de"])


def our_domain() -> str:
    sender = parseaddr(current_app.config.get("MAIL_FROM") or "")[1]
    return sender.rpartition("@")[2] or "myhezo.pl"


def new_message_id(case_number: str) -> str:
    """A Message-ID of ours for mail about ``case_number`` (unguessable)."""
    return f"<case.{case_number}.{secrets.token_hex(8)}@{our_domain()}>"


def reply_marker() -> str:
    """The first line of case mail: replies are read above it."""
    return "##- " + _("Please write your reply above this line") + " -##"


def case_subject(subject: str, case_number: str) -> str:
    """``subject`` with the case number in it (added in brackets when missing)."""
    return subject if case_number in subject else f"[{case_number}] {subject}"


def thread_values(case) -> dict:
    """The outbox columns that make mail about ``case`` answerable."""
    return {
        "case": case.id,
        "message_id": new_message_id(case.number),
        "reply_to": current_app.config.get("MAIL_REPLY_TO")
        or settings.value("HELP_EMAIL"),
    }


def referenced_ids(message) -> list[str]:
    """The Message-IDs an incoming message answers (In-Reply-To first)."""
    found: list[str] = []
    for header in ("In-Reply-To", "References"):
        for value in message.get_all(header) or ():
            for msg_id in _MSG_ID.findall(str(value)):
                if msg_id not in found:
                    found.append(msg_id)
    return found[:50]


def subject_case_number(subject: str) -> str | None:
    match = CASE_NUMBER.search(subject or "")
    return match.group(0) if match else None


def reply_text(text: str) -> str:
    """The new part of a reply: above our marker, quotes and signature cut."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    marker = MARKER.search(text)
    if marker:
        text = _ATTRIBUTION.sub("", text[: marker.start()].rstrip())
    signature = _SIGNATURE.search(text)
    if signature:
        text = text[: signature.start()]
    try:
        cut = _PARSER.parse_reply(text=text)
    except Exception:  # a parser failure must not lose the message
        cut = text
    cut = (cut or "").strip()
    # Never keep nothing of a message that said something.
    return cut or text.strip()
