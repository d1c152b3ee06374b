"""The test IMAP server itself: a real Dovecot that takes and serves mail."""

from email.message import EmailMessage

import imap_tools
import pytest


def _raw(subject: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "anna@example.com"
    mail["To"] = "pomoc@myhezo.pl"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{subject}@example.com>"
    mail.set_content("Dzień dobry")
    return bytes(mail)


def test_messages_appended_are_served_back_by_uid(dovecot, imap_user):
    dovecot.append(imap_user, _raw("one"))
    dovecot.append(imap_user, _raw("two"))
    with dovecot.mailbox(imap_user) as box:
        got = [(m.uid, m.subject, m.text.strip()) for m in box.fetch(mark_seen=False)]
    assert [(s, t) for _, s, t in got] == [
        ("one", "Dzień dobry"),
        ("two", "Dzień dobry"),
    ]
    assert got[0][0] != got[1][0]


def test_each_user_has_an_own_mailbox(dovecot, imap_user):
    dovecot.append(imap_user, _raw("mine"))
    assert dovecot.uids(imap_user + "-other") == []


def test_wrong_password_is_refused(dovecot, imap_user):
    box = imap_tools.MailBoxUnencrypted(dovecot.host, dovecot.port)
    try:
        with pytest.raises(imap_tools.errors.MailboxLoginError):
            box.login(imap_user, "wrong")
    finally:
        box.client.shutdown()
