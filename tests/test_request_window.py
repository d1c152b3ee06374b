"""The new-case form tells the chosen contract's request window and, for a
critical problem outside it, to call the help line now: the response clock
waits for the window to open. The time is the view's ``utcnow`` (passed in
here), never a frozen clock."""

import re
from datetime import UTC, datetime

import pytest

from hezo import sla
from hezo.cases import pages, views
from hezo.i18n import in_language

from .factories import login, make_company, make_contract, make_user
from .test_templates import assert_unique_ids, parse

WARSAW = sla.WARSAW
HX = {"HX-Request": "true"}
#: Saturday noon; Independence Day (a Wednesday); a Tuesday evening; a Tuesday
#: morning inside the window; the moment a weekday's window closes.
SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=WARSAW)
HOLIDAY = datetime(2026, 11, 11, 10, 0, tzinfo=WARSAW)
EVENING = datetime(2026, 12, 8, 20, 0, tzinfo=WARSAW)
OPEN = datetime(2026, 12, 8, 10, 0, tzinfo=WARSAW)
CLOSING = datetime(2026, 12, 8, 17, 0, tzinfo=WARSAW)


@pytest.mark.parametrize(
    ("moment", "opens"),
    [
        (SATURDAY, datetime(2026, 12, 7, 9, 0, tzinfo=WARSAW)),
        (HOLIDAY, datetime(2026, 11, 12, 9, 0, tzinfo=WARSAW)),
        (EVENING, datetime(2026, 12, 9, 9, 0, tzinfo=WARSAW)),
        (CLOSING, datetime(2026, 12, 9, 9, 0, tzinfo=WARSAW)),
        (
            datetime(2026, 12, 8, 8, 59, tzinfo=WARSAW),
            datetime(2026, 12, 8, 9, 0, tzinfo=WARSAW),
        ),
        (OPEN, OPEN),
        # Christmas Eve (a holiday since 2025), then Christmas and Boxing Day.
        (
            datetime(2026, 12, 23, 17, 30, tzinfo=WARSAW),
            datetime(2026, 12, 28, 9, 0, tzinfo=WARSAW),
        ),
    ],
)
def test_the_8x5_window_opens_at_nine_on_the_next_business_day(moment, opens):
    assert sla.window_opens(moment, "8x5") == opens
    assert sla.window_opens(moment, "8x5").tzinfo == UTC


def test_the_24x7_window_is_always_open():
    for moment in (SATURDAY, HOLIDAY, EVENING, CLOSING):
        assert sla.window_opens(moment, "24x7") == moment


def test_the_window_refuses_naive_time_and_unknown_windows():
    with pytest.raises(ValueError):
        sla.window_opens(datetime(2026, 12, 5, 12, 0), "8x5")
    with pytest.raises(ValueError):
        sla.window_opens(SATURDAY, "9x6")


@pytest.fixture
def world(dbconn):
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    return {
        # PW-AHR-NBD is 8x5, PW-TAC is 24x7 (catalogue.toml).
        "8x5": make_contract(
            customer=company, number="HZ-2026-000001", serials=("A-1",)
        ),
        "24x7": make_contract(
            customer=company,
            number="HZ-2026-000002",
            serials=("B-1",),
            service_code="PW-TAC",
        ),
        "user": make_user(company=company),
    }


@pytest.mark.parametrize("moment", [SATURDAY, HOLIDAY, EVENING])
def test_a_critical_problem_outside_the_8x5_window_is_told_to_call(world, moment):
    window = pages.request_window(world["8x5"], "critical", moment)
    assert window["window"] == "8x5" and window["call_now"]
    assert window["opens_at"] == sla.window_opens(moment, "8x5") > moment


@pytest.mark.parametrize("moment", [SATURDAY, HOLIDAY, EVENING])
def test_no_call_for_24x7_or_a_problem_that_is_not_critical(world, moment):
    always = pages.request_window(world["24x7"], "critical", moment)
    assert always["opens_at"] is None and not always["call_now"]
    for severity in ("major", "minor", None, "bogus"):
        window = pages.request_window(world["8x5"], severity, moment)
        assert not window["call_now"] and window["opens_at"] is not None


def test_no_call_inside_the_window_and_nothing_without_a_contract(world):
    window = pages.request_window(world["8x5"], "critical", OPEN)
    assert window["opens_at"] is None and not window["call_now"]
    assert pages.request_window(None, "critical", SATURDAY) is None


@pytest.fixture
def at(monkeypatch):
    """The new-case view's clock set to ``moment`` (only that view's)."""

    def set_now(moment):
        monkeypatch.setattr(views, "utcnow", lambda: moment.astimezone(UTC))

    return set_now


def window_block(page: str) -> str:
    match = re.search(r'<div id="request-window".*?\n</div>', page, re.S)
    assert match, page
    return match.group(0)


def plain_form(client, world, contract, lang="en", severity="critical") -> str:
    """The new-case page asked for without JavaScript (a plain GET)."""
    login(client, world["user"], lang=lang)
    query = f"contract={world[contract].number}&severity={severity}"
    return client.get(f"/{lang}/cases/new?{query}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "en",
            "Requests handled Mon–Fri 9:00–17:00 Warsaw time, except Polish "
            "public holidays",
        ),
        ("pl", "dni robocze"),
    ],
)
def test_the_form_shows_the_8x5_window_in_words(client, world, at, lang, words):
    at(OPEN)
    block = window_block(plain_form(client, world, "8x5", lang))
    assert words in block
    assert 'data-testid="call-now"' not in block


def test_the_form_shows_the_24x7_window_in_words(client, world, at):
    at(SATURDAY)
    block = window_block(plain_form(client, world, "24x7"))
    assert "Requests handled 24 hours a day, 7 days a week" in block
    assert "TAC &amp; OS Support" in block
    assert 'data-testid="call-now"' not in block


@pytest.mark.parametrize(
    ("moment", "opens"),
    [
        (SATURDAY, "7 Dec 2026, 09:00 Warsaw time"),
        (HOLIDAY, "12 Nov 2026, 09:00 Warsaw time"),
        (EVENING, "9 Dec 2026, 09:00 Warsaw time"),
    ],
)
def test_critical_outside_the_window_says_call_now_and_when_it_opens(
    client, world, at, moment, opens
):
    at(moment)
    page = plain_form(client, world, "8x5")
    block = window_block(page)
    assert 'data-testid="call-now"' in block
    # The help line from the settings, as a tel: link.
    assert re.search(
        r'<a [^>]*href="tel:\+48122525600">.{0,80}\+48 12 25 25 600</span></a>', block
    )
    assert opens in block
    assert re.search(r'id="severity-0"[^>]*checked|checked[^>]*id="severity-0"', page)


def test_the_call_now_note_in_polish(client, world, at):
    at(SATURDAY)
    block = window_block(plain_form(client, world, "8x5", "pl"))
    assert "tel:+48122525600" in block
    assert "7.12.2026, 09:00 czasu warszawskiego" in block


def test_a_form_sent_back_with_errors_still_says_call_now(client, world, at):
    at(SATURDAY)
    login(client, world["user"], lang="en")
    response = client.post(
        "/en/cases/new",
        data={
            "contract": world["8x5"].number,
            "serial": "A-1",
            "subject": "",
            "description": "Down",
            "severity": "critical",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    block = window_block(response.get_data(as_text=True))
    assert 'data-testid="call-now"' in block and "7 Dec 2026, 09:00" in block


def test_the_severity_fragment_is_the_window_block(client, world, at):
    at(SATURDAY)
    login(client, world["user"], lang="en")
    page = client.get("/en/cases/new").get_data(as_text=True)
    # The severity choices ask for it, sending the contract and the severity.
    fieldset = re.search(r"<fieldset[^>]*hx-get=\"([^\"]+)\"[^>]*>", page)
    assert fieldset and "fragment=window" in fieldset.group(1)
    assert 'hx-target="#request-window"' in fieldset.group(0)
    assert 'hx-swap="outerHTML"' in fieldset.group(0)
    url = fieldset.group(1).replace("&amp;", "&")
    base = f"{url}&contract={world['8x5'].number}"
    critical = client.get(base + "&severity=critical", headers=HX)
    fragment = critical.get_data(as_text=True)
    assert "<html" not in fragment
    assert [r.get("id") for r in parse(fragment).roots] == ["request-window"]
    assert 'data-testid="call-now"' in fragment
    minor = client.get(base + "&severity=minor", headers=HX).get_data(as_text=True)
    assert 'data-testid="call-now"' not in minor and "Mon–Fri" in minor
    always = client.get(
        f"{url}&contract={world['24x7'].number}&severity=critical", headers=HX
    ).get_data(as_text=True)
    assert 'data-testid="call-now"' not in always and "24 hours" in always
    # Without htmx the same address is the whole form, note included.
    whole = client.get(base + "&severity=critical").get_data(as_text=True)
    assert "<html" in whole and 'data-testid="call-now"' in whole


def test_a_change_of_contract_brings_its_window_out_of_band(client, world, at):
    at(SATURDAY)
    login(client, world["user"], lang="en")
    page = client.get("/en/cases/new").get_data(as_text=True)
    assert re.search(
        r"hx-include=\"[^\"]*\[name=&#39;severity&#39;\]|hx-include=\"[^\"]*\[name='severity'\]",
        page,
    )
    answer = client.get(
        f"/en/cases/new?fragment=serials&contract={world['8x5'].number}"
        "&severity=critical",
        headers=HX,
    ).get_data(as_text=True)
    roots = {r.get("id"): r for r in parse(answer).roots}
    assert set(roots) == {"contract-fields", "request-window"}
    assert roots["request-window"]["hx-swap-oob"] == "true"
    assert_unique_ids(answer)
    assert "A-1" in answer and 'data-testid="call-now"' in answer
    other = client.get(
        f"/en/cases/new?fragment=serials&contract={world['24x7'].number}"
        "&severity=critical",
        headers=HX,
    ).get_data(as_text=True)
    assert "B-1" in other and 'data-testid="call-now"' not in other


def test_a_bad_severity_in_the_address_is_no_error(client, world, at):
    at(SATURDAY)
    login(client, world["user"], lang="en")
    for query in ("severity=" + "x" * 5000, "contract=nope"):
        response = client.get(f"/en/cases/new?fragment=window&{query}", headers=HX)
        assert response.status_code == 200
        assert 'data-testid="call-now"' not in response.get_data(as_text=True)
    # A NUL is refused before any view, as everywhere (hezo/inputs.py).
    response = client.get("/en/cases/new?fragment=window&severity=%00", headers=HX)
    assert response.status_code == 400


def test_every_window_has_words_in_both_languages(app):
    from hezo.catalogue import WINDOWS
    from hezo.vocabulary import VOCABULARIES, label

    assert set(VOCABULARIES["window"]) == set(WINDOWS)
    with app.test_request_context("/pl/"):
        with in_language("pl"):
            assert all(
                label("window", w) != VOCABULARIES["window"][w].label for w in WINDOWS
            )


@pytest.fixture
def partner_world(dbconn):
    """A partner that sold an 8x5 and a 24x7 contract to one customer."""
    seller = make_company("7740001454", "Reseller Żuraw")
    customer = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    return {
        "8x5": make_contract(
            customer=customer, partner=seller, number="HZ-2026-000011", serials=("P-1",)
        ),
        "24x7": make_contract(
            customer=customer,
            partner=seller,
            number="HZ-2026-000012",
            serials=("P-2",),
            service_code="PW-TAC",
        ),
        "user": make_user(role="partner", company=seller),
    }


def test_a_partner_reporting_for_a_customer_is_told_the_window_too(
    client, partner_world, monkeypatch
):
    """The partner's form is the same form: the chosen contract's window, the
    call-now note for a critical problem outside it, refreshed by htmx."""
    from hezo.partners import workspace_views

    monkeypatch.setattr(workspace_views, "utcnow", lambda: SATURDAY.astimezone(UTC))
    world = partner_world
    login(client, world["user"], lang="en")
    page = client.get(
        f"/en/partner/cases/new?contract={world['8x5'].number}&severity=critical"
    ).get_data(as_text=True)
    block = window_block(page)
    assert "Mon–Fri" in block and 'data-testid="call-now"' in block
    assert 'href="tel:+48122525600"' in block
    fieldset = re.search(r"<fieldset[^>]*hx-get=\"([^\"]+)\"[^>]*>", page)
    assert fieldset and "/en/partner/cases/new" in fieldset.group(1)
    url = fieldset.group(1).replace("&amp;", "&")
    always = client.get(
        f"{url}&contract={world['24x7'].number}&severity=critical", headers=HX
    ).get_data(as_text=True)
    assert [r.get("id") for r in parse(always).roots] == ["request-window"]
    assert "24 hours" in always and 'data-testid="call-now"' not in always
    change = client.get(
        f"/en/partner/cases/new?fragment=serials&contract={world['8x5'].number}"
        "&severity=critical",
        headers=HX,
    ).get_data(as_text=True)
    roots = {r.get("id"): r for r in parse(change).roots}
    assert set(roots) == {"contract-fields", "request-window"}
    assert "P-1" in change and 'data-testid="call-now"' in change
    assert_unique_ids(change)
