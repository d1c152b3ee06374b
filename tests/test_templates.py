"""What every template may see and how its fragments swap: no settings beyond
a whitelist (never the secret key), each htmx fragment is the element it
replaces (one id, never nested in a copy of itself), one vocabulary of words."""

import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from flask import render_template_string, template_rendered
from jinja2 import UndefinedError

from hezo.i18n import in_language
from hezo.models.accounts import ROLES
from hezo.models.cases import CHANNELS, SEVERITIES, STATUSES
from hezo.vocabulary import VOCABULARIES, label
from hezo.web import TEMPLATE_SETTINGS

from .factories import login, make_company, make_contract, make_user
from .test_staff import new_case

HX = {"HX-Request": "true"}


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.roots: list[dict] = []  # attributes of the top-level elements
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if self.depth == 0:
            self.roots.append(attrs)
        if tag not in ("br", "img", "input", "meta", "link", "hr"):
            self.depth += 1

    def handle_endtag(self, tag):
        self.depth -= 1


def parse(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(html)
    return parser


def assert_unique_ids(html: str):
    repeated = [i for i, n in Counter(parse(html).ids).items() if n > 1]
    assert not repeated, f"ids used more than once: {repeated}"


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    contract = make_contract(customer=company, partner=partner, serials=("SN-1",))
    return {
        "company": company,
        "contract": contract,
        "customer": make_user(company=company, email="klient@example.pl"),
        "engineer": make_user(role="engineer", company=None, email="inz@example.pl"),
    }


def test_no_template_sees_the_configuration_or_the_secret_key(app, client, world):
    login(client, world["customer"], lang="en")
    seen = []

    def record(sender, template, context, **extra):
        seen.append(context)

    template_rendered.connect(record, app)
    try:
        page = client.get("/en/cases/")
    finally:
        template_rendered.disconnect(record, app)
    assert page.status_code == 200 and seen
    secret = app.config["SECRET_KEY"]
    for context in seen:
        assert "config" not in context
        assert set(context["site"]) == set(TEMPLATE_SETTINGS)
        assert all(secret != value for value in context["site"].values())
    with app.test_request_context("/en/"):
        assert render_template_string("{{ config }}") == ""
        with pytest.raises(UndefinedError):
            render_template_string("{{ config.SECRET_KEY }}")
    assert secret not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "role, path, target",
    [
        ("customer", "/en/cases/?q=Awaria", "case-rows"),
        ("customer", "/en/contracts/?q=SN", "contract-rows"),
        ("engineer", "/en/staff/?severity=major", "queue"),
    ],
)
def test_a_list_fragment_is_the_element_it_replaces(client, world, role, path, target):
    new_case(world)
    login(client, world[role], lang="en")
    page = client.get(path).get_data(as_text=True)
    fragment = client.get(path, headers=HX).get_data(as_text=True)
    assert_unique_ids(page)
    assert f'hx-target="#{target}"' in page
    # Swapped with outerHTML: the fragment's one top-level element is the
    # target; others are swapped out of band (a count's live region).
    swaps = re.findall(rf'hx-target="#{target}"[^>]*?hx-swap="([^"]+)"', page)
    swaps += re.findall(rf'hx-swap="([^"]+)"[^>]*?hx-target="#{target}"', page)
    assert swaps and all(s.startswith("outerHTML") for s in swaps), swaps
    roots = [r for r in parse(fragment).roots if "hx-swap-oob" not in r]
    assert [r.get("id") for r in roots] == [target]
    assert parse(fragment).ids.count(target) == 1


def test_the_pager_swaps_the_whole_list(client, world):
    for n in range(21):
        new_case(world, subject=f"Awaria {n}")
    login(client, world["customer"], lang="en")
    fragment = client.get("/en/cases/?page=1", headers=HX).get_data(as_text=True)
    nxt = re.search(
        r'<a rel="next" href="([^"]+)" hx-get="[^"]+" '
        r'hx-target="#case-rows" hx-swap="outerHTML',
        fragment,
    )
    assert nxt, fragment
    second = client.get(nxt.group(1).replace("&amp;", "&"), headers=HX)
    assert parse(second.get_data(as_text=True)).roots[0]["id"] == "case-rows"
    assert "Page 2 of 2" in second.get_data(as_text=True)


def test_a_reply_swaps_thread_and_files_as_themselves(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    answer = client.post(
        f"/en/cases/{case.number}/messages",
        data={"body": "Nadal nie działa"},
        headers=HX,
    ).get_data(as_text=True)
    roots = {r.get("id"): r for r in parse(answer).roots}
    assert set(roots) == {"reply", "thread", "case-files", "case-live"}
    assert roots["thread"]["hx-swap-oob"] == "true"
    assert roots["case-files"]["hx-swap-oob"] == "true"
    assert roots["case-live"]["hx-swap-oob"] == "innerHTML"
    assert_unique_ids(answer)
    assert "Nadal nie działa" in answer


def test_every_stored_code_has_a_word_in_both_languages(app):
    for kind, codes in (
        ("status", STATUSES),
        ("severity", SEVERITIES),
        ("channel", CHANNELS),
        ("role", ROLES),
    ):
        assert set(VOCABULARIES[kind]) == set(codes), kind
    with app.test_request_context("/pl/"):
        with in_language("pl"):
            assert label("role", "customer") == "klient"
            assert label("status", "waiting_for_customer") != "waiting for the customer"
        with in_language("en"):
            assert label("role", "customer") == "customer"


def test_roles_are_shown_in_polish_not_as_codes(client, world):
    login(client, world["engineer"], lang="pl")
    page = client.get("/pl/staff/accounts").get_data(as_text=True)
    cells = re.findall(r'data-label="Rola">([^<·]+)', page)
    assert cells and "customer" not in " ".join(cells) and "klient" in " ".join(cells)
