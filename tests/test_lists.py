"""The case and contract lists and the engineers' queue as a user reads them:
each row headed by its subject or contract number, identifiers that never
break, empty states that say what to do next, the queue's time left and its
breached and due-soon rows marked by more than colour."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from hezo.db import utcnow
from hezo.models import SupportCase

from .factories import login, make_company, make_contract, make_user
from .test_staff import make_world, new_case, set_due

HX = {"HX-Request": "true"}


@pytest.fixture
def world(dbconn):
    return make_world()


def page(client, user, path, lang="en", **headers):
    login(client, user, lang=lang)
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def rows(html: str, testid: str) -> list[str]:
    return re.findall(rf'<tr[^>]*data-testid="{testid}".*?</tr>', html, re.S)


class _LiveRegions(HTMLParser):
    """What is written inside live regions (aria-live or role=status)."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []
        self.relative_inside = 0
        self.live_ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        live = "aria-live" in attrs or attrs.get("role") == "status"
        if live:
            self.live_ids.append(attrs.get("id") or tag)
        inside = any(self.stack) or live
        if tag == "time" and "data-relative" in attrs and inside:
            self.relative_inside += 1
        if tag not in self.VOID:
            self.stack.append(live)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()


def live_regions(html: str) -> _LiveRegions:
    parser = _LiveRegions()
    parser.feed(html)
    return parser


# -- case list ---------------------------------------------------------------------


def test_case_list_row_is_headed_by_its_subject_and_keeps_identifiers_whole(
    client, world
):
    case = new_case(world, subject="Przełącznik rdzeniowy restartuje się")
    html = page(client, world["customer"], "/en/cases/")
    (row,) = rows(html, "case-row")
    headline = re.search(
        r'<th scope="row" class="row-headline">\s*<a ([^>]*)>([^<]*)<', row
    )
    assert headline.group(1) == f'class="headline" href="/en/cases/{case.number}"'
    assert headline.group(2) == "Przełącznik rdzeniowy restartuje się"
    for identifier in (case.number, world["contract"].number, "SN-1"):
        assert f'<span class="ident">{identifier}</span>' in row
    # Badges side by side, without their labels, on a phone's card.
    assert row.count('class="cell-badge"') == 2
    # The last activity: how long ago, kept current by app.js, and when.
    assert re.search(r"<time datetime=[^>]* data-relative>1 min ago</time> · ", row)


def test_staff_case_list_names_the_company_under_the_subject(client, world):
    new_case(world)
    html = page(client, world["engineer"], "/en/cases/")
    (row,) = rows(html, "case-row")
    assert '· <span class="company">Żółw Sp. z o.o.</span>' in row


def test_case_list_tells_its_count_not_its_rows_to_screen_readers(client, world):
    new_case(world)
    login(client, world["customer"], lang="en")
    for headers in ({}, HX):
        html = client.get("/en/cases/?q=Awaria", headers=headers).get_data(True)
        regions = live_regions(html)
        assert "case-rows" not in regions.live_ids
        assert regions.relative_inside == 0
        status = re.search(r'<p id="case-rows-status"[^>]*>([^<]*)</p>', html)
        assert 'role="status"' in status.group(0) and status.group(1) == "1 case"
    assert 'hx-swap-oob="innerHTML"' in status.group(0)


@pytest.mark.parametrize(
    ("lang", "message", "action"),
    [
        ("en", "Your company has no cases yet.", "Report a problem"),
        ("pl", "Twoja firma nie ma jeszcze zgłoszeń.", "Zgłoś problem"),
    ],
)
def test_empty_case_list_offers_to_report_a_problem(
    client, world, lang, message, action
):
    html = page(client, world["customer"], f"/{lang}/cases/", lang=lang)
    state = re.search(r'data-testid="empty-state">.*?</div>', html, re.S).group(0)
    assert message in state
    assert f'<a class="btn btn-primary" href="/{lang}/cases/new">{action}</a>' in state


@pytest.mark.parametrize(
    ("lang", "message", "action"),
    [
        ("en", "No case matches this search or filter.", "Clear the filter"),
        (
            "pl",
            "Żadne zgłoszenie nie pasuje do wyszukiwania ani filtra.",
            "Wyczyść filtr",
        ),
    ],
)
def test_case_list_with_nothing_matching_offers_to_clear_the_filter(
    client, world, lang, message, action
):
    new_case(world)
    html = page(
        client, world["customer"], f"/{lang}/cases/?q=nic&status=closed", lang=lang
    )
    assert message in html
    assert f'<a class="btn btn-primary" href="/{lang}/cases/">{action}</a>' in html
    assert "Report a problem" not in html.split('id="case-rows"')[1]


def test_partner_with_no_shared_case_is_offered_to_report_one(client, world):
    partner = make_user(role="partner", company=world["contract"].partner)
    html = page(client, partner, "/en/partner/")
    assert "No case is shared with you yet." in html
    assert '<a class="btn btn-primary" href="/en/partner/cases/new">' in html


# -- contract lists ----------------------------------------------------------------


def test_contract_list_row_is_headed_by_its_number(client, world):
    contract = world["contract"]
    html = page(client, world["customer"], "/en/contracts/")
    (row,) = rows(html, "contract-row")
    assert row.index('<th scope="row" class="row-headline">') < row.index("<td")
    assert f'<strong class="contract-number ident">{contract.number}</strong>' in row
    assert 'class="cell-badge"' in row and ">active<" in row
    assert re.search(
        r'<span class="text-nowrap">[^<]+</span> – <span class="text-nowrap">', row
    )
    regions = live_regions(html)
    assert "contract-rows" not in regions.live_ids
    assert "contract-rows-status" in regions.live_ids


@pytest.mark.parametrize(
    ("lang", "message", "contact"),
    [
        (
            "en",
            "Your company has no contracts in the portal yet.",
            "send us its number",
        ),
        ("pl", "Twoja firma nie ma jeszcze umów w portalu.", "prześlij nam jej numer"),
    ],
)
def test_empty_contract_list_says_how_to_get_a_contract_added(
    client, app, lang, message, contact, dbconn
):
    customer = make_user(company=make_company("7792433527", "Pusta Sp. z o.o."))
    html = page(client, customer, f"/{lang}/contracts/", lang=lang)
    state = re.search(r'data-testid="empty-state">.*?</div>', html, re.S).group(0)
    assert message in state and contact in state
    assert f'href="mailto:{app.config["HELP_EMAIL"]}"' in state
    assert 'href="tel:' in state


@pytest.mark.parametrize(
    ("lang", "action"), [("en", "Clear the search"), ("pl", "Wyczyść wyszukiwanie")]
)
def test_contract_search_with_no_match_offers_to_clear_it(client, world, lang, action):
    html = page(client, world["customer"], f"/{lang}/contracts/?q=XYZ", lang=lang)
    assert f'<a class="btn btn-primary" href="/{lang}/contracts/">{action}</a>' in html


def test_partner_contract_lists_keep_identifiers_whole_and_say_what_next(client, world):
    partner = make_user(role="partner", company=world["contract"].partner)
    login(client, partner, lang="en")
    html = client.get("/en/partner/contracts").get_data(True)
    (row,) = rows(html, "contract-row")
    assert (
        f'<strong class="contract-number ident">{world["contract"].number}</strong>'
        in row
    )
    assert '<span class="ident">5260181596</span>' in row  # the customer's NIP
    assert '<code class="ident">SN-1</code>' in row
    html = client.get("/en/partner/renewals").get_data(True)
    assert "No contract ends within 90 days." in html
    assert (
        '<a class="btn btn-primary" href="/en/partner/contracts">All contracts sold</a>'
        in html
    )


# -- the engineers' queue ----------------------------------------------------------


def queue_row(html: str, subject: str) -> str:
    (row,) = [r for r in rows(html, "queue-row") if f">{subject}</a>" in r]
    return row


BY = r"by (\d+ \w+ \d{4}, )?\d\d:\d\d Warsaw time"


def test_queue_rows_show_time_left_and_mark_breached_and_due_soon_clocks(client, world):
    now = utcnow()
    set_due(
        new_case(world, subject="Po terminie"), now - timedelta(minutes=25, seconds=20)
    )
    set_due(new_case(world, subject="Zaraz"), now + timedelta(minutes=10, seconds=20))
    set_due(new_case(world, subject="Później"), now + timedelta(minutes=40, seconds=20))
    html = page(client, world["engineer"], "/en/staff/")
    breached = queue_row(html, "Po terminie")
    assert 'class="due-breached"' in breached
    assert re.search(
        r'data-due="breached">breached</span> <span class="moment"><time [^>]*'
        rf"data-relative>25 min ago</time> · {BY}</span>",
        breached,
    )
    soon = queue_row(html, "Zaraz")
    assert 'class="due-due_soon"' in soon and 'data-due="due_soon">due soon<' in soon
    assert re.search(rf"data-relative>in 10 min</time> · {BY}", soon)
    later = queue_row(html, "Później")
    assert 'class="due-ok"' in later and "data-due=" not in later  # no badge: calm
    assert re.search(rf"data-relative>in 40 min</time> · {BY}", later)
    assert 'data-testid="count-due-soon">due within 15 minutes: 1<' in html


def test_queue_time_left_in_polish(client, world):
    set_due(
        new_case(world, subject="Zaraz"), utcnow() + timedelta(minutes=40, seconds=20)
    )
    html = page(client, world["engineer"], "/pl/staff/", lang="pl")
    assert re.search(
        r"data-relative>za 40 min</time> · do (\d+\.\d+\.\d{4}, )?\d\d:\d\d "
        r"czasu warszawskiego",
        queue_row(html, "Zaraz"),
    )


def test_queue_is_not_a_live_region_and_has_one_for_its_news(client, world):
    new_case(world)
    html = page(client, world["engineer"], "/en/staff/")
    regions = live_regions(html)
    assert "queue" not in regions.live_ids and "queue-news" in regions.live_ids
    assert regions.relative_inside == 0
    news = re.search(r'<p id="queue-news"[^>]*>', html).group(0)
    assert 'data-both="New cases: {new}, changed: {changed}"' in news
    # Each row carries what it shows, so a refresh can tell a changed one.
    (row,) = rows(html, "queue-row")
    assert re.search(r'data-case="ZG-\d{4}-\d+"\s+data-version="new major ', row)


def test_queue_refresh_swaps_the_counts_in_the_bar_out_of_band(client, world):
    new_case(world)
    html = page(client, world["engineer"], "/en/staff/", **HX)
    counts = re.search(r'<ul id="queue-counts"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in counts
    whole = client.get("/en/staff/").get_data(True)
    bar = whole.split('<section class="queue-bar"')[1].split("</section>")[0]
    assert '<ul id="queue-counts"' in bar and "hx-swap-oob" not in bar
    assert 'id="queue-filters"' in bar


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zasilacz", {"Zasilacz piszczy"}),
        ("INNA FIRMA", {"Port stoi"}),
        ("sn-9", {"Port stoi"}),
        ("hz-2099", {"Port stoi"}),
        ("nic takiego", set()),
        ("%", set()),
    ],
)
def test_queue_search_finds_subject_company_serial_and_contract(
    client, world, query, expected
):
    other = make_company("7792433527", "Inna Firma S.A.")
    contract = make_contract(customer=other, number="HZ-2099-000001", serials=("SN-9",))
    new_case(world, subject="Zasilacz piszczy")
    case = new_case(world, subject="Port stoi", contract=contract)
    SupportCase.update(company=other).where(SupportCase.id == case.id).execute()
    html = page(client, world["engineer"], "/en/staff/?q=" + query.replace("%", "%25"))
    shown = set(re.findall(r'class="headline" href="[^"]+">([^<]+)<', html))
    assert shown == expected
    if not expected:
        assert "No open case matches these filters." in html
        assert (
            '<a class="btn btn-primary" href="/en/staff/">Clear the filters</a>' in html
        )


def test_empty_queue_says_new_cases_come_by_themselves(client, world):
    html = page(client, world["engineer"], "/en/staff/")
    assert "No open cases. New ones appear here by themselves." in html
    html = client.get("/pl/staff/?severity=critical").get_data(True)
    assert '<a class="btn btn-primary" href="/pl/staff/">Wyczyść filtry</a>' in html
