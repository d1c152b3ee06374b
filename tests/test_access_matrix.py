"""Every route × every kind of visitor: who gets through, who gets nothing.

A route is "denied" when the answer is 404, 401, 403 or a redirect to the
sign-in page. RULES lists, per endpoint, the visitors that may get through;
a route that is not in RULES fails the test, so new routes must be declared.
Routes about one case are tried on a case the customer shares with its
partner and on one it does not.
"""

import pytest

from hezo.db import utcnow
from hezo.models.mail import ReceivedMail

from .factories import (
    login,
    make_case_with_file,
    make_company,
    make_contract,
    make_user,
)

ANY = {
    "anon",
    "customer_a",
    "customer_b",
    "partner_p1",
    "partner_p2",
    "engineer",
    "admin",
}
SIGNED = ANY - {"anon"}
CUSTOMERS = {"customer_a", "customer_b"}
PARTNERS = {"partner_p1", "partner_p2"}
STAFF = {"engineer", "admin"}
# "partner": a case partner_p1 reported for customer_a (not shared by it).
CASE_READERS = {
    "shared": {"customer_a", "partner_p1"} | STAFF,
    "private": {"customer_a"} | STAFF,
    "partner": {"customer_a", "partner_p1"} | STAFF,
}
CASE_WRITERS = {
    "shared": {"customer_a"} | STAFF,
    "private": {"customer_a"} | STAFF,
    "partner": {"customer_a", "partner_p1"} | STAFF,
}
OWNER_ONLY = {
    "shared": {"customer_a"},
    "private": {"customer_a"},
    "partner": {"customer_a"},
}
# The customer's side of closing the loop: its people, and the partner that
# reported the case (not staff: their panel moves the status).
CLOSERS = {
    "shared": {"customer_a"},
    "private": {"customer_a"},
    "partner": {"customer_a", "partner_p1"},
}

RULES = {
    "root.index": ANY,
    "root.healthz": ANY,
    "public.home": ANY,
    "accounts.register": ANY,
    "accounts.register_contact": ANY,
    "accounts.register_sent": ANY,
    "accounts.register_confirm": ANY,
    "accounts.invite": ANY,
    "accounts.login": ANY,
    "accounts.forgot_password": ANY,
    "accounts.reset_password": ANY,
    "accounts.contact": ANY,
    "accounts.logout": ANY,
    # V-ZAM configured (the test provider): the redirect there for anyone,
    # its answer refused for a made-up state (400) whoever sends it.
    "accounts.vzam_login": ANY,
    "vzam.callback": ANY,
    # Only reachable inside the sign-in and activation flows.
    "accounts.login_code": set(),
    "accounts.setup_password": set(),
    "accounts.setup_authenticator": set(),
    "accounts.overview": SIGNED,
    "accounts.notifications": SIGNED,
    "accounts.end_other_sessions": SIGNED,
    "accounts.profile": SIGNED,
    "accounts.change_email": SIGNED,
    # A made-up token: refused (400) whoever opens it.
    "accounts.confirm_email": ANY,
    "accounts.colleagues": CUSTOMERS | PARTNERS,
    "staff.accounts": STAFF,
    "staff.account": STAFF,
    "staff.end_user_sessions": STAFF,
    "staff.set_enabled": {"admin"},
    "accounts.change_password": SIGNED,
    "accounts.new_authenticator": SIGNED,
    "accounts.new_recovery_codes": SIGNED,
    "contracts.index": CUSTOMERS,
    "contracts.serials": {"customer_a"},
    "cases.index": SIGNED,
    "cases.new": CUSTOMERS,
    "cases.detail": CASE_READERS,
    "cases.thread": CASE_READERS,
    "cases.pdf": CASE_READERS,
    "cases.download": CASE_READERS,
    "cases.post_message": CASE_WRITERS,
    "cases.consent": OWNER_ONLY,
    "cases.escalate": OWNER_ONLY,
    "cases.close_loop": CLOSERS,
    "cases.satisfaction": CLOSERS,
    "cases.site": OWNER_ONLY,
    # Watchers and the contact: the customer company's people only.
    "cases.watchers_list": OWNER_ONLY,
    "cases.add_watcher": OWNER_ONLY,
    "cases.remove_watcher": OWNER_ONLY,
    "cases.hand_over": OWNER_ONLY,
    # A draft from customer_a's e-mail: theirs alone (not even a colleague's).
    "cases.discard_draft": {"customer_a"},
    "staff.queue": STAFF,
    "staff.satisfaction": STAFF,
    # Service-level reports: staff every customer's, a customer its own
    # company's (tests/test_reports.py), partners none.
    "reports.index": CUSTOMERS | STAFF,
    "reports.csv": CUSTOMERS | STAFF,
    "reports.pdf": CUSTOMERS | STAFF,
    "staff.assign": STAFF,
    "staff.change_status": STAFF,
    "staff.new_case": STAFF,
    "staff.mail_triage": STAFF,
    "staff.mail_ask_to_register": STAFF,
    "partners.home": PARTNERS,
    "sharing.index": CUSTOMERS,
    "partners.contracts": PARTNERS,
    "partners.renewals": PARTNERS,
    "partners.renewals_csv": PARTNERS,
    "partners.new_case": PARTNERS,
    # GDPR rights: one's own data only; staff decide on erasure.
    "privacy.page": ANY,
    "privacy.mine": SIGNED,
    "privacy.request_export": SIGNED,
    "privacy.download": {"customer_a"},  # customer_a's copy of their data
    "privacy.request_erasure": SIGNED,
    "privacy.requests": STAFF,
    "privacy.decide": STAFF,
    # The administrators' console.
    "admin.index": {"admin"},
    "admin.audit_log": {"admin"},
    "admin.audit_log_csv": {"admin"},
    "admin.imports": {"admin"},
    "admin.import_upload": {"admin"},
    "admin.import_run": {"admin"},
    "admin.import_apply": {"admin"},
    "admin.catalogue": {"admin"},
    "admin.new_variant": {"admin"},
    "admin.edit_variant": {"admin"},
    "admin.delete_variant": {"admin"},
    "admin.add_closed_day": {"admin"},
    "admin.remove_closed_day": {"admin"},
    "admin.people": {"admin"},
    "admin.invite": {"admin"},
    "admin.person": {"admin"},
    "admin.person_enabled": {"admin"},
    "admin.person_reset": {"admin"},
    "admin.settings_page": {"admin"},
}


@pytest.fixture
def config_overrides(oidc_provider):
    return {"ATTACHMENT_MAX_BYTES": 100_000} | oidc_provider.app_config()


@pytest.fixture
def world(app, dbconn):
    p1, p2 = (
        make_company("1860913901", "NetPartner"),
        make_company("9542751782", "Inny"),
    )
    a, b = make_company("5260181596", "Firma A"), make_company("6281948218", "Firma B")
    contract = make_contract(customer=a, partner=p1, serials=("SN-A",))
    make_contract(customer=b, partner=p2, serials=("SN-B",))
    users = {
        "customer_a": make_user(company=a),
        "customer_b": make_user(company=b),
        "partner_p1": make_user(role="partner", company=p1),
        "partner_p2": make_user(role="partner", company=p2),
        "engineer": make_user(role="engineer"),
        "admin": make_user(role="admin"),
    }
    cases = {
        name: make_case_with_file(app, users["customer_a"], contract, name, share)
        for name, share in (("shared", True), ("private", False))
    }
    # A mail waiting in the engineers' triage list (``mail_id`` 1).
    ReceivedMail.create(
        message_id="<m1@example.pl>",
        folder="INBOX",
        received_at=utcnow(),
        from_address="obcy@example.pl",
        status="triage",
    )
    # A draft from customer_a's e-mail (hezo/mail/drafts.py).
    draft = ReceivedMail.create(
        message_id="<d1@example.pl>",
        folder="INBOX",
        received_at=utcnow(),
        from_address=users["customer_a"].email,
        status="draft",
        user=users["customer_a"],
    )
    cases["partner"] = make_case_with_file(
        app, users["partner_p1"], contract, "partner", False, reporting_partner=p1.id
    )
    from hezo.models import ServiceVariant
    from hezo.privacy.services import request_erasure, request_export

    variant = ServiceVariant.create(code="AHB-8x5x8", name="8x5x8", name_pl="8x5x8")
    export = request_export(users["customer_a"], utcnow())
    erasure = request_erasure(users["customer_b"], utcnow())
    from hezo.imports.runs import queue_dry_run

    run = queue_dry_run(users["admin"], "contracts", "a.csv", "a.csv", 1, utcnow())
    return {
        "users": users,
        "cases": cases,
        "contract": contract,
        "draft_id": draft.id,
        "export_id": export.id,
        "request_id": erasure.id,
        "run_id": run.id,
        "variant_id": variant.id,
    }


def urls_for(app, rule, world):
    """Concrete URLs for a rule: one per case variant for case routes."""
    args = {
        "lang": "pl",
        "token": "x" * 43,
        "contract_id": world["contract"].id,
        "user_id": world["users"]["customer_b"].id,
        "mail_id": 1,
        "draft_id": world["draft_id"],
        "export_id": world["export_id"],
        "request_id": world["request_id"],
        "run_id": world["run_id"],
        "variant_id": world["variant_id"],
        "day": "2030-01-02",
    }
    if "number" not in rule.arguments:
        return [(None, _build(app, rule, args))]
    result = []
    for variant, (case, attachment) in world["cases"].items():
        values = dict(args, number=case.number, attachment_id=attachment.id)
        result.append((variant, _build(app, rule, values)))
    return result


def _build(app, rule, values):
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})


def denied(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code in (301, 302, 303) and "/login" in response.location


@pytest.mark.parametrize("actor", sorted(ANY))
def test_access_matrix(app, world, actor):
    client = app.test_client()
    if actor != "anon":
        login(client, world["users"][actor])
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    undeclared = sorted({r.endpoint for r in rules} - set(RULES))
    assert undeclared == [], "routes without an access rule in the matrix"
    wrong = []
    for rule in sorted(rules, key=lambda r: r.endpoint == "accounts.logout"):
        expected = RULES[rule.endpoint]
        for variant, url in urls_for(app, rule, world):
            allowed = expected[variant] if isinstance(expected, dict) else expected
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                with client.open(url, method=method, data={}) as response:
                    if denied(response) == (actor in allowed):
                        wrong.append((method, url, response.status_code))
    assert wrong == []


def test_withdrawal_hides_the_case_from_the_partner_at_once(app, world):
    partner = app.test_client()
    login(partner, world["users"]["partner_p1"])
    case, attachment = world["cases"]["shared"]
    base = f"/pl/cases/{case.number}"
    assert partner.get(base).status_code == 200
    assert case.number in partner.get("/pl/partner/").get_data(as_text=True)
    owner = app.test_client()
    login(owner, world["users"]["customer_a"])
    assert owner.post(base + "/consent", data={}).status_code == 303
    for url in (base, base + "/thread", base + "/pdf", f"{base}/files/{attachment.id}"):
        for headers in ({}, {"HX-Request": "true"}):
            with partner.get(url, headers=headers) as response:
                assert response.status_code == 404, url
    listing = partner.get("/pl/partner/").get_data(as_text=True)
    # Left: only the case the partner reported itself (consent does not rule it).
    assert case.number not in listing and "1 zgłoszenie" in listing
    assert world["cases"]["partner"][0].number in listing


def test_partner_reads_are_audited_and_shown_to_the_customer(app, world):
    from hezo.models import AuditEvent

    partner = app.test_client()
    login(partner, world["users"]["partner_p1"])
    case, attachment = world["cases"]["shared"]
    partner.get(f"/pl/cases/{case.number}")
    with partner.get(f"/pl/cases/{case.number}/files/{attachment.id}"):
        pass
    partner.get(f"/pl/cases/{case.number}/pdf")
    actions = [
        e.action
        for e in AuditEvent.select()
        .where(AuditEvent.actor == world["users"]["partner_p1"])
        .order_by(AuditEvent.id)
    ]
    assert actions == ["partner_case_read", "partner_file_download", "case_exported"]
    owner = app.test_client()
    login(owner, world["users"]["customer_a"])
    page = owner.get("/pl/partner/sharing").get_data(as_text=True)
    assert case.number in page and world["users"]["partner_p1"].full_name in page


def test_partner_never_sees_internal_notes_or_reply_box(app, world):
    from hezo.cases.services import post_message

    case, _ = world["cases"]["shared"]
    post_message(
        case,
        world["users"]["engineer"],
        "NOTATKA WEWNĘTRZNA",
        [],
        utcnow(),
        internal=True,
    )
    partner = app.test_client()
    login(partner, world["users"]["partner_p1"])
    html = partner.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert "NOTATKA WEWNĘTRZNA" not in html and 'id="reply"' not in html


@pytest.mark.parametrize(
    "path, headers, action",
    [
        ("", {}, "partner_case_read"),
        ("/thread", {}, "partner_case_read"),
        ("/thread", {"HX-Request": "true"}, "partner_case_read"),
        ("/pdf", {}, "case_exported"),
        ("/files/{file}", {}, "partner_file_download"),
    ],
)
def test_every_partner_view_writes_one_audit_event(app, world, path, headers, action):
    from hezo.models import AuditEvent

    partner_user = world["users"]["partner_p1"]
    partner = app.test_client()
    login(partner, partner_user)
    case, attachment = world["cases"]["shared"]
    url = f"/pl/cases/{case.number}" + path.format(file=attachment.id)
    for views in (1, 2):
        with partner.get(url, headers=headers) as response:
            assert response.status_code == 200
        events = AuditEvent.select().where(AuditEvent.actor == partner_user)
        assert [e.action for e in events] == [action] * views
        assert {e.case_id for e in events} == {case.id}
    owner = app.test_client()
    login(owner, world["users"]["customer_a"])
    page = owner.get("/pl/partner/sharing").get_data(as_text=True)
    assert partner_user.full_name in page
    assert '<td data-label="Wyświetlenia przez partnera">2</td>' in page


def test_partner_case_page_does_not_poll(app, world):
    partner = app.test_client()
    login(partner, world["users"]["partner_p1"])
    case, _ = world["cases"]["shared"]
    assert "every 30s" not in partner.get(f"/pl/cases/{case.number}").get_data(
        as_text=True
    )


def test_a_partner_never_sees_a_contract_it_did_not_sell(app, world):
    """customer_a's contract, sold by partner_p1 (with its cases, one shared,
    one reported by partner_p1): partner_p2 finds it, its serial and its
    customer nowhere, nor can report on it; partner_p1 does see it."""
    from .test_partner_workspace import report

    contract = world["contract"]
    urls = [
        "/pl/partner/contracts",
        "/pl/partner/renewals",
        "/pl/partner/renewals.csv",
        "/pl/partner/cases/new",
        f"/pl/partner/cases/new?fragment=serials&contract={contract.number}",
        "/pl/partner/",
        f"/pl/partner/?customer={contract.customer_id}",
        "/pl/cases/?q=SN-A",
    ]
    seen = {}
    for who in ("partner_p1", "partner_p2"):
        client = app.test_client()
        login(client, world["users"][who])
        for url in urls:
            # (The contract select's refresh as htmx sends it: the full page
            # would echo the query string in its language switch.)
            headers = {"HX-Request": "true"} if "fragment" in url else {}
            with client.get(url, headers=headers) as response:
                assert response.status_code == 200, url
                body = response.get_data(as_text=True)
            seen[who, url] = contract.number in body or "Firma A" in body
        answer = report(client, contract, "SN-A", "/pl/partner/cases/new")
        seen[who, "report"] = answer.status_code == 303
    assert [k for k, v in seen.items() if v and k[0] == "partner_p2"] == []
    assert seen["partner_p1", "/pl/partner/contracts"]  # not a blind test
    assert seen["partner_p1", "/pl/partner/"] and seen["partner_p1", "report"]
