"""The service partner's contact facts: shown where a user needs them, nowhere
an invented number or address.

The facts come from the partner's own documents (../shared/DESIGN.md,
"Contact facts"); an invented help line once passed every test because the
tests read the number back from the same configuration that printed it.
"""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po
from flask import url_for

from hezo import ConfigurationError, create_app
from hezo.cases.services import escalate, open_case
from hezo.config import Defaults
from hezo.db import utcnow
from hezo.mail.queue import render_mail
from hezo.models import Device, OutboxMessage, SupportCase
from hezo.web import tel_uri

from .conftest import TEST_CONFIG
from .factories import login, make_company, make_contract, make_user

REPO_ROOT = Path(__file__).resolve().parent.parent

HELPLINE = "+48 12 25 25 600"
HELP_EMAIL = "pomoc@myhezo.pl"
ESCALATION_EMAIL = "escalation@myhezo.pl"
ESCALATION_PHONE = "+48 12 25 25 502"
FACT_EMAILS = {HELP_EMAIL, ESCALATION_EMAIL}

# Phone numbers as people write them: international, or the Polish national
# forms ("0-12 25 25 600", "12 25 25 600", "600 700 800").
PHONE_LIKE = re.compile(
    r"\+\d{2}[ \u00a0-]?\d[\d \u00a0-]{6,13}\d"
    r"|(?<![\d-])(?:0-?)?\d{2} \d{2} \d{2} \d{3}(?!\d)"
    r"|(?<![\d-])\d{3} \d{3} \d{3}(?!\d)"
)
EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
TEL_HREF = re.compile(r'href="(tel:[^"]*)"')
# Mails to the service team itself (and every ``*_for_staff`` template), which
# carry no customer-facing footer.
STAFF_MAILS = {"case_escalated", "contact_request", "response_breach"}


def main_content(html: str) -> str:
    """The page without its footer, to see what the page itself says."""
    return re.sub(r"<footer.*?</footer>", "", html, flags=re.S)


def assert_help_line(html: str) -> None:
    assert 'href="tel:+48122525600"' in html and HELPLINE in html
    assert f'href="mailto:{HELP_EMAIL}"' in html


def assert_escalation_contacts(html: str) -> None:
    assert 'href="tel:+48122525502"' in html and ESCALATION_PHONE in html
    assert f'href="mailto:{ESCALATION_EMAIL}"' in html


def assert_no_other_contacts(text: str, known_emails=()) -> None:
    """Every phone number and e-mail address in ``text`` is a fact (or a user's)."""
    facts = {"+48122525600", "+48122525502"}
    phones = {re.sub(r"[^+\d]", "", p) for p in PHONE_LIKE.findall(text)}
    assert phones <= facts, phones - facts
    assert set(TEL_HREF.findall(text)) <= {"tel:" + p for p in facts}
    emails = set(EMAIL_LIKE.findall(text)) - set(known_emails)
    assert emails <= FACT_EMAILS, emails - FACT_EMAILS


# -- the facts themselves -------------------------------------------------------


def test_defaults_are_the_service_partners_facts():
    assert Defaults.HELPLINE_PHONE == HELPLINE
    assert Defaults.HELP_EMAIL == HELP_EMAIL
    assert Defaults.ESCALATION_EMAIL == ESCALATION_EMAIL
    assert Defaults.ESCALATION_PHONE == ESCALATION_PHONE
    # The facts name no separate engineers' address: the help e-mail it is.
    assert Defaults.ENGINEERS_EMAIL == HELP_EMAIL


def readme_defaults() -> dict[str, str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `HEZO_([A-Z_]+)` \| `([^`]*)` \|", readme, flags=re.M)
    return dict(rows)


@pytest.mark.parametrize(
    "name",
    [
        "HELPLINE_PHONE",
        "HELP_EMAIL",
        "ESCALATION_EMAIL",
        "ESCALATION_PHONE",
        "ENGINEERS_EMAIL",
        "KNOWLEDGE_BASE_URL",
    ],
)
def test_readme_configuration_table_lists_each_setting_with_its_default(name):
    assert readme_defaults().get(name) == getattr(Defaults, name)


def test_design_and_readme_state_the_same_facts():
    design = REPO_ROOT.parent / "shared" / "DESIGN.md"
    if not design.is_file():
        pytest.skip(f"{design} is not beside this checkout")
    facts = design.read_text(encoding="utf-8").split("## Contact facts", 1)[1]
    facts = facts.split("\n## ", 1)[0]
    for value in (HELPLINE, HELP_EMAIL, ESCALATION_EMAIL, ESCALATION_PHONE):
        assert f"**{value}**" in facts
    readme = readme_defaults()
    assert [readme[k] for k in ("HELPLINE_PHONE", "HELP_EMAIL")] == [
        HELPLINE,
        HELP_EMAIL,
    ]
    assert [readme[k] for k in ("ESCALATION_EMAIL", "ESCALATION_PHONE")] == [
        ESCALATION_EMAIL,
        ESCALATION_PHONE,
    ]


def test_templates_and_catalogue_hard_code_no_phone_or_address():
    """Templates take every contact from the configuration, so one setting
    changes it everywhere; the catalogue's texts carry none either."""
    offenders = []
    for path in sorted((REPO_ROOT / "hezo/templates").rglob("*.*")):
        text = path.read_text(encoding="utf-8")
        if PHONE_LIKE.search(text) or re.search(r"@myhezo\.", text):
            offenders.append(path.name)
    po = REPO_ROOT / "hezo/translations/pl/LC_MESSAGES/messages.po"
    with po.open("rb") as f:
        texts = [str(m.id) + str(m.string) for m in read_po(f) if m.id]
    offenders += [t for t in texts if PHONE_LIKE.search(t) or EMAIL_LIKE.search(t)]
    assert offenders == []


@pytest.mark.parametrize(
    ("phone", "uri"),
    [
        ("+48 12 25 25 600", "tel:+48122525600"),
        ("+48-12-25-25-502", "tel:+48122525502"),
        ("+48 (12) 252 56 00", "tel:+48122525600"),
    ],
)
def test_tel_uri_is_e164_without_separators(phone, uri):
    assert tel_uri(phone) == uri


@pytest.mark.parametrize("phone", ["12 25 25 600", "0-12 25 25 600", "+48 12", ""])
def test_a_phone_without_country_code_is_refused_at_start(tmp_path, phone):
    with pytest.raises(ConfigurationError, match="HEZO_ESCALATION_PHONE"):
        create_app(
            TEST_CONFIG
            | {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                "ESCALATION_PHONE": phone,
            }
        )


def test_environment_overrides_each_fact(tmp_path, monkeypatch):
    monkeypatch.setenv("HEZO_HELPLINE_PHONE", "+48 600 700 800")
    monkeypatch.setenv("HEZO_HELP_EMAIL", "help@example.com")
    monkeypatch.setenv("HEZO_ESCALATION_EMAIL", "boss@example.com")
    monkeypatch.setenv("HEZO_ESCALATION_PHONE", "+44 20 7946 0000")
    monkeypatch.setenv("HEZO_KNOWLEDGE_BASE_URL", "https://kb.example.com/")
    app = create_app(TEST_CONFIG | {"DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"})
    html = app.test_client().get("/en/").get_data(as_text=True)
    assert 'href="tel:+48600700800"' in html and "+48 600 700 800" in html
    assert 'href="tel:+442079460000"' in html
    assert "mailto:help@example.com" in html and "mailto:boss@example.com" in html
    assert HELPLINE not in html and HELP_EMAIL not in html
    assert app.config["KNOWLEDGE_BASE_URL"] == "https://kb.example.com/"


# -- every page -----------------------------------------------------------------


@pytest.fixture
def world(app, dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Firma A")
    contract = make_contract(customer=company, partner=partner, serials=("SN-A",))
    users = {
        "customer": make_user(company=company, email="anna@firma-a.example.pl"),
        "partner": make_user(role="partner", company=partner),
        "engineer": make_user(role="engineer"),
        "admin": make_user(role="admin"),
    }
    case = open_case(
        actor=users["customer"],
        contract=contract,
        device=Device.get(Device.contract == contract),
        subject="Przełącznik restartuje się",
        description="Co 40 minut.",
        severity="major",
        contact_phone="",
        share_with=contract.partner_id,
        files=[],
        now=utcnow(),
    )
    return {"users": users, "case": case, "contract": contract}


def page_urls(app, world) -> list[str]:
    """One URL per GET route of the whole route map (files and PDFs included)."""
    values = {
        "lang": "pl",
        "token": "x" * 43,
        "contract_id": world["contract"].id,
        "user_id": world["users"]["customer"].id,
        "number": world["case"].number,
        "attachment_id": 0,
        "export_id": 0,
        "run_id": 0,
        "variant_id": 0,
    }
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint != "static" and "GET" in rule.methods:
                args = {k: values[k] for k in rule.arguments}
                urls.append(url_for(rule.endpoint, **args))
    return sorted(urls)


@pytest.mark.parametrize("actor", ["anon", "customer", "partner", "engineer", "admin"])
def test_every_page_shows_the_facts_and_no_other_number_or_address(app, world, actor):
    client = app.test_client()
    if actor != "anon":
        login(client, world["users"][actor])
    known = {u.email for u in world["users"].values()}
    seen = 0
    for url in page_urls(app, world):
        with client.get(url) as response:
            if not response.mimetype == "text/html" or response.status_code == 204:
                continue
            html = response.get_data(as_text=True)
        if "<footer" not in html:
            continue  # an htmx fragment
        seen += 1
        footer = html.split("<footer", 1)[1]
        assert_help_line(footer)
        assert_escalation_contacts(footer)
        assert_no_other_contacts(html, known)
    assert seen >= 8


def test_home_page_gives_help_line_and_e_mail(client):
    html = main_content(client.get("/en/").get_data(as_text=True))
    assert_help_line(html)


def test_contact_page_gives_help_line_and_e_mail_without_opening_hours(client):
    for lang in ("pl", "en"):
        html = main_content(client.get(f"/{lang}/contact").get_data(as_text=True))
        assert_help_line(html)
        assert not re.search(r"\d{1,2}:\d{2}", html)
        assert not re.search(r"(?i)monday|friday|poniedzia|piątk", html)


@pytest.fixture
def contract(dbconn):
    company = make_company("5260181596", "Firma A")
    return make_contract(customer=company, number="HZ-2025-000123", serials=("SN-A",))


REGISTRATION_FAILURES = {
    "details do not match": ("post", "/pl/register", {"nip": "5260181596",
        "contract": "HZ-2025-000123", "serial": "WRONG"}),
    "invalid NIP": ("post", "/pl/register", {"nip": "5260181597",
        "contract": "HZ-2025-000123", "serial": "SN-A"}),
    "empty form": ("post", "/pl/register", {}),
    "link expired": ("post", "/pl/register/confirm/" + "x" * 43, {}),
    "invitation expired": ("get", "/pl/invite/" + "x" * 43, {}),
    "no e-mail came": ("get", "/pl/register/sent", {}),
}  # fmt: skip


@pytest.mark.parametrize("failure", sorted(REGISTRATION_FAILURES))
def test_every_registration_failure_shows_help_line_and_e_mail(
    client, contract, failure
):
    method, url, data = REGISTRATION_FAILURES[failure]
    response = getattr(client, method)(url, data=data)
    assert response.status_code in (200, 400, 422)
    assert_help_line(main_content(response.get_data(as_text=True)))


def test_failures_in_the_later_wizard_steps_show_help_line_and_e_mail(client, contract):
    proof = {"nip": "5260181596", "contract": "HZ-2025-000123", "serial": "SN-A"}
    assert client.post("/pl/register", data=proof).status_code == 303
    person = {"first_name": "Jan", "last_name": "Nowak", "language": "pl"}
    response = client.post("/pl/register/contact", data=person | {"email": "x@"})
    assert response.status_code == 422
    assert_help_line(main_content(response.get_data(as_text=True)))
    data = person | {"email": "jan@firma-a.example.pl", "phone": "+48 600 100 200"}
    assert client.post("/pl/register/contact", data=data).status_code == 303
    body = OutboxMessage.get(OutboxMessage.recipient == data["email"]).body_text
    link = re.search(r"https://myhezo\.pl(/\S+)", body).group(1)
    assert client.post(link).status_code == 303
    response = client.post("/pl/setup/password", data={"password": "a", "confirm": "a"})
    assert response.status_code == 422
    assert_help_line(main_content(response.get_data(as_text=True)))
    passphrase = "korek płotek rower 42"
    password = {"password": passphrase, "confirm": passphrase}
    assert client.post("/pl/setup/password", data=password).status_code == 303
    response = client.post("/pl/setup/authenticator", data={"code": "000000"})
    assert response.status_code == 422
    assert_help_line(main_content(response.get_data(as_text=True)))


def test_error_pages_show_help_line(client):
    response = client.get("/pl/no-such-page")
    assert response.status_code == 404
    assert_help_line(main_content(response.get_data(as_text=True)))


def escalation_section(html: str) -> str:
    return html.split('<section id="escalation"', 1)[1].split("</section>", 1)[0]


@pytest.mark.parametrize("htmx", [False, True])
def test_escalation_section_and_confirmation_name_the_escalation_contacts(
    app, world, htmx
):
    client = app.test_client()
    login(client, world["users"]["customer"])
    url = f"/pl/cases/{world['case'].number}"
    assert_escalation_contacts(
        escalation_section(client.get(url).get_data(as_text=True))
    )
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(
        url + "/escalate", data={"reason": "Produkcja stoi"}, headers=headers
    )
    if htmx:
        confirmation = response.get_data(as_text=True)
    else:
        assert response.status_code == 303
        confirmation = client.get(url).get_data(as_text=True)
        assert "Zgłoszenie zostało eskalowane" in confirmation
    section = escalation_section(confirmation)
    assert "Produkcja stoi" in section
    assert_escalation_contacts(section)
    recipients = [m.recipient for m in OutboxMessage.select()]
    assert recipients.count(ESCALATION_EMAIL) == 1


def test_escalation_goes_to_the_escalation_address_by_default(app, world):
    with app.test_request_context():
        escalate(world["case"], world["users"]["customer"], "Stoi", utcnow())
    mail = OutboxMessage.get(OutboxMessage.subject.contains("Eskalacja"))
    assert mail.recipient == ESCALATION_EMAIL


# -- every e-mail ---------------------------------------------------------------


def mail_templates() -> list[str]:
    folder = REPO_ROOT / "hezo" / "templates" / "mail"
    return sorted(p.stem for p in folder.glob("*.txt") if not p.stem.startswith("_"))


@pytest.mark.parametrize("template", mail_templates())
@pytest.mark.parametrize("language", ["pl", "en"])
def test_every_mail_carries_the_facts_and_no_other_contact(
    app, world, template, language
):
    case = SupportCase.get_by_id(world["case"].id)
    context = {
        "case": case,
        "actor": "Anna Nowak",
        "author": "Anna Nowak",
        "reopened": True,
        "reason": "Produkcja stoi",
        "link": "https://myhezo.pl/pl/x",
        "left": 3,
        "greeting": "Dzień dobry",
        "number": 7,
        "failures": 6,
        "lang": language,
        "due": case.reported_at,
        "name": "Anna",
        "company": "Firma A",
        "nip": "5260181596",
        "email": "anna@firma-a.example.pl",
        "phone": "",
        "message": "Pomocy",
        "subject": "Awaria",
        "received_at": case.reported_at,
        "draft": SimpleNamespace(id=12),
        "days": 7,
    }
    with app.test_request_context():
        subject, body = render_mail(template, language, **context)
    assert_no_other_contacts(subject + "\n" + body, {"anna@firma-a.example.pl"})
    if template not in STAFF_MAILS and not template.endswith("_for_staff"):
        for fact in (HELPLINE, HELP_EMAIL, ESCALATION_EMAIL, ESCALATION_PHONE):
            assert fact in body


def test_mail_footer_follows_the_configuration(app, world):
    app.config["HELPLINE_PHONE"] = "+48 600 700 800"
    with app.test_request_context():
        _subject, body = render_mail("password_changed", "en")
    assert "Help line: +48 600 700 800" in body and HELPLINE not in body
