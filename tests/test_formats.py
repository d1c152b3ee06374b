"""One date format per language on pages, in e-mails and in PDFs, deadlines
with their time zone named, and Polish that does not guess the reader's
gender."""

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hezo.i18n import format_deadline, format_local_datetime, in_language
from hezo.models import OutboxMessage, User

from .factories import login
from .test_pdf import pdf_text
from .test_staff import new_case
from .test_templates import world  # noqa: F401 - the fixture

PO = Path(__file__).parent.parent / "hezo/translations/pl/LC_MESSAGES/messages.po"
POLISH = re.compile(r"\b\d{1,2}\.\d{2}\.\d{4}, \d{2}:\d{2}\b")
ENGLISH = re.compile(
    r"\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}, \d{2}:\d{2}\b"
)


def test_case_page_mail_and_pdf_show_the_deadline_alike(app, client, world):  # noqa: F811
    # Reported a week ago at 10:00: the page shortens a deadline that falls on
    # today's date to its hour ("by 10:00"), so a case reported now would make
    # the page differ from the mail whenever the suite runs on the due day
    # (it did, once, at midnight in Warsaw).
    warsaw = ZoneInfo("Europe/Warsaw")
    week_ago = datetime.now(warsaw).date() - timedelta(days=7)
    case = new_case(world, when=datetime.combine(week_ago, time(10), warsaw))
    with app.test_request_context("/pl/"), in_language("pl"):
        due_pl = format_deadline(case.response_due_at)
        reported_pl = format_local_datetime(case.reported_at)
    with app.test_request_context("/en/"), in_language("en"):
        due_en = format_deadline(case.response_due_at)
    assert POLISH.fullmatch(due_pl.removesuffix(" czasu warszawskiego"))
    assert ENGLISH.fullmatch(due_en.removesuffix(" Warsaw time"))

    login(client, world["customer"])
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert due_pl in page and reported_pl in page
    assert due_en in client.get(f"/en/cases/{case.number}").get_data(as_text=True)

    pdf = client.get(f"/pl/cases/{case.number}/pdf")
    text = pdf_text(pdf.data)
    assert due_pl in text and reported_pl in text

    team = app.config["ENGINEERS_EMAIL"]
    staff_mail = OutboxMessage.get(OutboxMessage.recipient == team)
    assert due_pl in staff_mail.body_text


def test_polish_mail_greets_without_a_vocative(app, client, world):  # noqa: F811
    customer = world["customer"]
    User.update(language="pl").where(User.id == customer.id).execute()
    client.post("/pl/password/forgot", data={"email": customer.email})
    mail = OutboxMessage.get(OutboxMessage.recipient == customer.email)
    body = mail.body_text
    assert body.splitlines()[0].startswith("Dzień dobry,") or "\nDzień dobry,\n" in body
    assert customer.first_name not in body.split("Dzień dobry,")[1].splitlines()[0]


def test_polish_wording_never_guesses_the_readers_gender():
    text = PO.read_text(encoding="utf-8")
    translations, in_msgstr = [], False
    for line in text.splitlines():
        if line.startswith("msgstr"):
            in_msgstr = True
        elif not line.startswith('"'):
            in_msgstr = False
        if in_msgstr:
            translations.append(line.partition('"')[2])
    translations = " ".join(translations)
    # First and second person past forms (zapisałem, prosiłeś, zostałaś …)
    # and the reader's adjectives ("jesteś pierwszy") are gendered.
    assert not re.findall(r"\b(?!hasłem\b)\w+ł(em|am|eś|aś)\b", translations)
    assert not re.findall(r"\b(Jesteś|jesteś) \w+(y|a)\b", translations)
    assert "Zapisano kody" in text
