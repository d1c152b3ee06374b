"""A bounded fuzzer over the whole URL map (used by tests/test_fuzz.py and
bench/bench_fuzz.py).

Requests are drawn with hypothesis: any route of ``app.url_map`` with its own
methods (and now and then another), path values that exist and values that
cannot (NUL, line breaks, bidi overrides, other scripts' digits, numbers past
the database's integers, markup, SQL), query arguments and the fields of every
form of the app, files with odd names, htmx headers; sent as an anonymous
visitor, a customer, a partner or an engineer. An answer is wrong when it is a
5xx or lacks one of the security headers.
"""

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hezo import crypto
from hezo.accounts import passwords
from hezo.db import utcnow
from hezo.models import ThrottleEvent, User
from hezo.models.mail import ReceivedMail
from hezo.web import SECURITY_HEADERS

from .factories import (
    PASSWORD,
    login,
    make_case_with_file,
    make_company,
    make_contract,
    make_user,
)

ROLES = ("anon", "customer", "partner", "engineer")
NASTY = [
    "",
    "\x00",
    "a\x00b",
    "\n",
    "x\n",
    "\r\nBcc: a@b.pl",
    "a\u2028b",
    "\u2029",
    "\u0085",
    "evil\u202egol.txt",
    "\u200e\u2066",
    "١٢",
    "²",
    "１",
    "-1",
    "0",
    "1e3",
    "2147483648",
    "9223372036854775808",
    "99999999999999999999999",
    "' OR 1=1 --",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    "%s%n",
    "../../etc/passwd",
    "//evil.test",
    "javascript:alert(1)",
    "ąęłśżźćń ĄĘŁŚŻŹĆŃ",
    "x" * 300,
    "open",
    "closed",
    "me",
    "none",
    "critical",
    "phone",
    "pl",
    "y",
    "1",
]
QUERY_NAMES = [
    "page",
    "q",
    "status",
    "customer",
    "assignee",
    "severity",
    "window",
    "escalated",
    "next",
    "fragment",
    "contract",
    "serial",
    "nip",
    "_method",
    "_external",
    "_anchor",
    "lang",
    "draft",
    # The audit log's filters (hezo/admin/audit_log.py).
    "person",
    "company",
    "case",
    "kind",
    "from",
    "to",
]
HEADERS = [
    {},
    {"HX-Request": "true"},
    {"HX-Request": "true", "HX-Boosted": "true"},
    {"HX-Request": "true", "HX-History-Restore-Request": "true"},
    {"HX-Request": "true", "HX-Request-Type": "full"},
    {"Accept-Language": "en;q=0.9, \u0142;q=x"},
]
FILE_NAMES = ["log.txt", "a.log.gz", "x.zip", "shot.png", "a\u202eb.log", "a b.cfg"]


def form_field_names() -> list[str]:
    """The field names of every form of the app (FlaskForm subclasses)."""
    import hezo.accounts.forms  # noqa: F401 - the forms register as subclasses
    import hezo.cases.forms  # noqa: F401
    import hezo.privacy.forms  # noqa: F401
    import hezo.staff.forms  # noqa: F401

    names, todo = set(), [FlaskForm]
    while todo:
        form = todo.pop()
        todo += form.__subclasses__()
        names |= {
            name
            for name in dir(form)
            if hasattr(getattr(form, name, None), "field_class")
        }
    return sorted(names | {"notify", "grant", "code", "current", "reason"})


@dataclass
class World:
    """What the requests refer to: accounts, cases, their files."""

    users: dict
    numbers: list
    attachment_ids: list
    contract_ids: list
    user_ids: list
    emails: list
    clients: dict = field(default_factory=dict)


def make_world(app) -> World:
    """Two customers, a partner, an engineer; a shared and a private case."""
    partner_company = make_company("1860913901", "NetPartner")
    a, b = make_company("5260181596", "Firma A"), make_company("6281948218", "B")
    contract = make_contract(customer=a, partner=partner_company, serials=("SN-A",))
    other = make_contract(customer=b, serials=("SN-B",))
    users = {
        "customer": make_user(company=a, email="customer@example.pl"),
        "partner": make_user(
            role="partner", company=partner_company, email="partner@example.pl"
        ),
        "engineer": make_user(role="engineer", email="engineer@example.pl"),
        "other": make_user(company=b, email="other@example.pl"),
    }
    cases = [
        make_case_with_file(app, users["customer"], contract, name, share)
        for name, share in (("shared", True), ("private", False))
    ]
    numbers = [case.number for case, _ in cases]
    files = [attachment.id for _, attachment in cases]
    # A mail waiting in the engineers' triage list (``mail_id`` 1).
    ReceivedMail.create(
        message_id="<fuzz@example.pl>",
        folder="INBOX",
        received_at=utcnow(),
        from_address="obcy@example.pl",
        subject="Awaria",
        body="<b>Pomocy</b>",
        status="triage",
    )
    # A draft from the customer's e-mail (``draft_id`` 2; hezo/mail/drafts.py).
    ReceivedMail.create(
        message_id="<fuzz-draft@example.pl>",
        folder="INBOX",
        received_at=utcnow(),
        from_address=users["customer"].email,
        subject="Awaria z e-maila",
        body="<b>Pomocy</b>",
        status="draft",
        user=users["customer"],
    )
    # The customer's copy of their data (``export_id`` 1) and another
    # person's erasure request (``request_id`` 2; hezo/privacy).
    from hezo.privacy.services import request_erasure, request_export

    request_export(users["customer"], utcnow())
    request_erasure(make_user(company=b, email="leaving@example.pl"), utcnow())
    # An import run waiting for the worker (``run_id`` 1; hezo/admin/imports.py).
    from hezo.imports.runs import queue_dry_run

    admin = make_user(role="admin", email="fuzz-admin@example.pl")
    queue_dry_run(admin, "contracts", "a.csv", "a.csv", 1, utcnow())
    return World(
        users=users,
        numbers=numbers,
        attachment_ids=files,
        contract_ids=[contract.id, other.id],
        user_ids=[u.id for u in users.values()],
        emails=[u.email for u in users.values()],
    )


def sign_in(app, world: World, role: str):
    """A client of ``role`` (signed in again with restored credentials when
    a fuzzed request signed it out, reset its authenticator or disabled it)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"198.51.100.{ROLES.index(role) + 1}"
    if role != "anon":
        user = world.users[role]
        User.update(
            password_hash=passwords.hash_password(PASSWORD),
            totp_secret=crypto.encrypt_secret(user.totp.secret),
            totp_last_step=0,
            failed_otps=0,
            otp_blocked_until=None,
            is_enabled=True,
            email=user.email,  # an approved erasure replaced it
            erased_at=None,
        ).where(User.id == user.id).execute()
        ThrottleEvent.delete().execute()
        login(client, user)
    world.clients[role] = client
    return client


def values(world: World):
    return st.one_of(
        st.sampled_from(NASTY + world.numbers + world.emails),
        st.integers(-5, 2**70).map(str),
        st.text(max_size=40),
    )


@st.composite
def requests(draw, app, world: World, rules, field_names):
    """One request: (role, method, path, query, form, headers, endpoint)."""
    rule = draw(st.sampled_from(rules))
    own = sorted(rule.methods - {"HEAD", "OPTIONS"})
    method = draw(
        st.one_of(st.sampled_from(own), st.sampled_from(["GET", "POST", "PUT"]))
        if draw(st.integers(0, 9)) == 0
        else st.sampled_from(own)
    )
    path = rule.rule
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if name == "lang":
            value = draw(st.sampled_from(["pl", "en"]))
        elif kind == "IntegerConverter":
            known = world.attachment_ids + world.contract_ids + world.user_ids
            value = str(draw(st.one_of(st.sampled_from(known), st.integers(0, 2**70))))
        elif kind == "PathConverter":
            value = draw(st.sampled_from(["css/app.css", "vendor/htmx.min.js", "x"]))
        elif name == "number":
            value = draw(st.one_of(st.sampled_from(world.numbers), values(world)))
        else:
            value = draw(values(world))
        path = fill(rule, name, value, path)
    query = draw(
        st.dictionaries(st.sampled_from(QUERY_NAMES), values(world), max_size=3)
    )
    form = {}
    if method != "GET":
        form = draw(
            st.dictionaries(st.sampled_from(field_names), values(world), max_size=6)
        )
        if draw(st.integers(0, 4)) == 0:
            name = draw(st.one_of(st.sampled_from(FILE_NAMES), values(world)))
            content = draw(
                st.sampled_from([b"log line\n", b"\x1f\x8b\x08\x00", b"PK\x03\x04"])
            )
            form["files"] = (io.BytesIO(content), name or "x")
    role = draw(st.sampled_from(ROLES))
    headers = draw(st.sampled_from(HEADERS))
    return role, method, path, query, form, headers, rule.endpoint


def fill(rule, name: str, value: str, path: str) -> str:
    """``path`` (the rule's text) with argument ``name`` replaced by ``value``."""
    placeholder = re.compile(rf"<(?:[^:<>]+:)?{name}>")
    return placeholder.sub(lambda _m: quote(value, safe=""), path)


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    endpoints: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def problem(response) -> str | None:
    """Why an answer is wrong (5xx, a missing security header), else None."""
    if response.status_code >= 500:
        return f"status {response.status_code}"
    missing = [h for h in SECURITY_HEADERS if h not in response.headers]
    return f"missing headers {missing}" if missing else None


#: Query arguments left out per endpoint (none now: every search is fuzzed).
NOT_FUZZED: dict[str, set] = {}


def send(app, world: World, request, tally: Tally, raise_on_problem: bool):
    role, method, path, query, form, headers, endpoint = request
    query = {k: v for k, v in query.items() if k not in NOT_FUZZED.get(endpoint, ())}
    client = world.clients.get(role) or sign_in(app, world, role)
    try:
        with client.open(
            path, method=method, query_string=query, data=form, headers=headers
        ) as response:
            status, wrong = response.status_code, problem(response)
            signed_out = role != "anon" and (
                "/login" in (response.location or "")
                or "/login" in response.headers.get("HX-Redirect", "")
            )
    except Exception as exc:  # noqa: BLE001 - the error page itself failed
        # A server answers this with its own bare 500, without our headers.
        status, wrong, signed_out = 500, f"error page failed: {exc!r:.200}", False
    tally.statuses[status] += 1
    tally.endpoints[endpoint] += 1
    if signed_out:
        world.clients.pop(role, None)  # a fresh sign-in for the next request
    if wrong:
        report = (wrong, role, method, path, query, dict(form), headers)
        tally.failures.append(report)
        if raise_on_problem:
            raise AssertionError(f"{report}")


def run(app, world: World, examples: int, per_example: int, raise_on_problem=True):
    """``examples`` × ``per_example`` fuzzed requests; returns the tally."""
    rules = [r for r in app.url_map.iter_rules()]
    names = form_field_names()
    tally = Tally()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # bounded time: no shrinking
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.lists(
            requests(app, world, rules, names),
            min_size=per_example,
            max_size=per_example,
        )
    )
    def batch(drawn):
        for request in drawn:
            send(app, world, request, tally, raise_on_problem)

    batch()
    return tally


SWEEP_VALUES = ("", "\x00", "١٢", "99999999999999999999", "a\u2028b")


def sweep(app, world: World, raise_on_problem=True) -> Tally:
    """Every rule with each of its methods as each role: once with known
    values, then with each kind of bad value in the path, query and form."""
    tally = Tally()
    names = form_field_names()
    known = {
        "attachment_id": world.attachment_ids[0],
        "contract_id": world.contract_ids[0],
        "user_id": world.user_ids[0],
        "mail_id": 1,
        "draft_id": 2,
        "export_id": 1,
        "request_id": 2,
        "run_id": 1,
        "variant_id": 1,  # a seeded package: not editable (404)
        "day": "2030-01-02",
        "lang": "pl",
        "filename": "css/app.css",
        "number": world.numbers[0],
        "token": "x" * 43,
    }
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role in ROLES:
                for bad in SWEEP_VALUES:
                    path = rule.rule
                    for name, converter in rule._converters.items():
                        value = str(known[name])
                        if name != "lang" and (
                            bad.isdigit()
                            or type(converter).__name__ != "IntegerConverter"
                        ):
                            value = bad if bad.isdigit() else value + bad
                        path = fill(rule, name, value, path)
                    form = {n: bad for n in names} if method != "GET" else {}
                    query = {n: bad for n in QUERY_NAMES if bad}
                    request = (role, method, path, query, form, {}, rule.endpoint)
                    send(app, world, request, tally, raise_on_problem)
    return tally
