"""The case page's summary, stepper and timeline as rendered, and the htmx
answers of its actions: each carries the regions that changed, out of band,
the words for the one live region and where the focus goes; the answers
without JavaScript stay 303s and the full page carries none of it."""

import re

import pytest

from hezo.cases.services import post_message
from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.models import SupportCase

from . import test_staff
from .factories import (
    login,
    make_case_with_file,
    make_company,
    make_contract,
    make_user,
)
from .test_templates import assert_unique_ids, parse

HX = {"HX-Request": "true"}


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    office_hours = make_contract(
        customer=company,
        partner=partner,
        service_code="PW-AHR-NBD",
        serials=("SN-1",),
        legacy_number="ZOLW/2019/7",
    )
    round_the_clock = make_contract(
        customer=company, service_code="PW-TAC", serials=("SN-9",)
    )
    return {
        "partner": partner,
        "contract": office_hours,
        "support_only": round_the_clock,
        "customer": make_user(company=company, language="en"),
        "partner_user": make_user(role="partner", company=partner, language="en"),
        "engineer": make_user(role="engineer", company=None, language="en"),
    }


def new_case(world, contract=None):
    return test_staff.new_case(world, severity="critical", contract=contract)


def move(case, world, *statuses, **fields):
    for status in statuses:
        case = SupportCase.get_by_id(case.id)
        transition(case, world["engineer"], status, utcnow(), **fields.get(status, {}))
    return SupportCase.get_by_id(case.id)


def region(html: str, element_id: str) -> str:
    """The element with ``element_id``, from its start tag to its end tag."""
    start = html.rindex("<", 0, html.index(f'id="{element_id}"'))
    tag = re.match(r"<(\w+)", html[start:]).group(1)
    depth = 0
    for match in re.finditer(rf"<(/?){tag}\b", html[start:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return html[start : start + match.end()]
    raise AssertionError(f"{element_id} is not closed")


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def page(client, case, lang="en") -> str:
    response = client.get(f"/{lang}/cases/{case.number}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- the summary ---------------------------------------------------------------


def test_the_summary_says_what_happens_by_when_and_what_to_do(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    summary = region(page(client, case), "case-summary")
    assert 'data-status="new"' in summary and 'data-severity="critical"' in summary
    assert 'data-flag="escalated"' not in summary
    words = text(summary)
    assert "First response due" in words and "Warsaw time" in words
    assert re.search(r"<time datetime=\"[^\"]+\" data-relative>in \d+", summary)
    assert (
        "8x5: Requests handled Mon–Fri 9:00–17:00 Warsaw time, except Polish "
        "public holidays" in words
    )
    assert "Nothing for now: an engineer is working on the case." in words

    case = move(case, world, "in_verification", "waiting_for_customer")
    words = text(region(page(client, case), "case-summary"))
    assert "Clock stopped — waiting for your answer" in words
    assert "First response due" not in words
    assert "An engineer is waiting for your answer." in words
    assert 'href="#reply"' in region(page(client, case), "case-summary")

    post_message(case, world["engineer"], "Sending a replacement.", [], utcnow())
    case = move(
        case,
        world,
        "in_verification",
        "validated",
        "replacement_sent",
        "awaiting_return",
        replacement_sent={"carrier": "DHL", "waybill": "JJD0001"},
        awaiting_return={"delivered_at": utcnow()},
    )
    words = text(region(page(client, case), "case-summary"))
    assert "Return of the faulty unit due" in words
    assert "Send the faulty unit back by" in words and "Warsaw time" in words

    client.post(f"/en/cases/{case.number}/escalate", data={"reason": "Down for hours"})
    assert 'data-flag="escalated"' in region(page(client, case), "case-summary")


def test_the_summary_of_a_round_the_clock_contract_in_polish(client, world):
    case = new_case(world, contract=world["support_only"])
    login(client, world["customer"])
    words = text(region(page(client, case, "pl"), "case-summary"))
    assert "24x7: Zgłoszenia obsługiwane 24 godziny na dobę, 7 dni" in words
    assert "czasu warszawskiego" in words and "Termin pierwszej odpowiedzi" in words


def test_engineers_read_the_stopped_clock_as_the_customers_wait(client, world):
    case = move(new_case(world), world, "waiting_for_customer")
    login(client, world["engineer"], lang="en")
    summary = text(region(page(client, case), "case-summary"))
    assert "Clock stopped — waiting for the customer's answer" in summary
    assert "What to do now" not in summary


# -- the stepper ---------------------------------------------------------------


def steps(html: str) -> list[tuple[str, bool, str]]:
    """(word, is current, when) of each step, in order."""
    part = region(html, "case-steps")
    return [
        (
            text(re.search(r'class="step-name">([^<]*)<', li).group(1)).strip(),
            'aria-current="step"' in li.split(">", 1)[0],
            text(li.split('class="step-name"', 1)[1].split("</span>", 1)[1]).strip(),
        )
        for li in re.findall(r"<li class=\"step .*?</li>", part, re.S)
    ]


def test_the_life_cycle_is_an_ordered_list_with_the_current_step_marked(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    html = page(client, case)
    assert re.search(r'id="case-steps".*?<ol class="stepper">', html, re.S)
    listed = steps(html)
    assert [word for word, _, _ in listed] == [
        "new",
        "in verification",
        "replacement approved",
        "replacement sent",
        "awaiting return of the faulty unit",
        "closed",
    ]
    assert [current for _, current, _ in listed] == [True] + [False] * 5

    case = move(case, world, "in_verification", "validated")
    listed = steps(page(client, case))
    assert [current for _, current, _ in listed] == [False, False, True] + [False] * 3
    # Each step reached has its moment ("1 min ago · 6 Dec 2026, 14:30").
    for _word, _current, when in listed[:3]:
        assert re.search(r"ago · \d{1,2} \w{3} \d{4}, \d\d:\d\d", when), when
    assert all(when == "" for _, _, when in listed[3:])


def test_a_case_resolved_without_hardware_ends_with_resolved(client, world):
    case = move(new_case(world), world, "in_verification", "waiting_for_customer")
    login(client, world["customer"], lang="en")
    listed = steps(page(client, case))
    # Waiting for the customer is a pause within verification.
    assert listed[1][:2] == ("in verification", True)
    assert "waiting for the customer" in region(page(client, case), "case-steps")

    case = move(case, world, "resolved")
    listed = steps(page(client, case))
    assert [word for word, _, _ in listed] == [
        "new",
        "in verification",
        "resolved",
        "closed",
    ]
    assert [current for _, current, _ in listed] == [False, False, True, False]


# -- the side column -------------------------------------------------------------


def test_the_properties_fold_into_details_beside_the_page(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    html = page(client, case)
    props = region(html, "case-summary")  # the summary comes first
    assert "Case details" not in props
    side = html[html.index("<aside") : html.index("</aside>")]
    assert "<details" in side and "<summary>Case details</summary>" in side
    words = text(side)
    for fact in (
        "Żółw Sp. z o.o.",
        world["contract"].number,
        "ZOLW/2019/7",
        "Next Business Day Advanced Hardware Replacement",
        "SN-1",
        "X465-48W",
        "portal",
    ):
        assert fact in words, fact
    # The contract in both notations, each kept whole.
    assert re.search(
        r'ident">HZ-[\d-]+</span> \(<span class="ident">ZOLW/2019/7<', side
    )
    assert 'class="col-lg-4' in side


# -- the timeline ------------------------------------------------------------------


def roles(html: str) -> list[tuple[str, str]]:
    thread = region(html, "thread")
    return re.findall(
        r'<strong class="author">([^<]*)</strong> <span class="role" '
        r'data-role="(\w+)">',
        thread,
    )


def test_each_message_shows_its_authors_name_and_role(app, client, world):
    case, attachment = make_case_with_file(
        app,
        world["partner_user"],
        world["contract"],
        "partner",
        share=False,
        reporting_partner=world["partner"].id,
    )
    post_message(case, world["engineer"], "Please send the log.", [], utcnow())
    post_message(case, world["customer"], "Here it is.", [], utcnow())
    post_message(case, world["engineer"], "Checked.", [], utcnow(), internal=True)
    login(client, world["customer"], lang="en")
    html = page(client, case)
    names = (
        world["partner_user"].full_name,
        world["engineer"].full_name,
        world["customer"].full_name,
    )
    assert roles(html) == list(
        zip(names, ("partner", "engineer", "customer"), strict=True)
    )
    # The file sits under the message it came with.
    first = region(html, "thread").split('<li class="message')[1]
    assert f"/files/{attachment.id}" in first and "partner.log" in first
    thread = text(region(html, "thread"))
    assert "partner" in thread and "engineer" in thread and "Checked." not in thread
    assert re.search(r"\d+ min ago · \d{1,2} \w{3} \d{4}, \d\d:\d\d", thread)

    client.post("/en/logout")
    login(client, world["engineer"])
    html = page(client, case, "pl")
    assert [r for _, r in roles(html)][-1] == "engineer"
    thread = region(html, "thread")
    for word in ("partner", "inżynier", "klient", "notatka wewnętrzna"):
        assert word in text(thread), word


# -- the htmx answers: what changed, out of band; focus; one announcement ----------


def oob_ids(html: str) -> dict[str, str]:
    """The top-level elements of an answer: id → their hx-swap-oob ("" if none)."""
    return {r["id"]: r.get("hx-swap-oob", "") for r in parse(html).roots}


def live_text(html: str) -> str:
    match = re.search(r'<div id="case-live" hx-swap-oob="innerHTML">(.*?)</div>', html)
    return match.group(1) if match else ""


def reply(client, case, body: str) -> str:
    return client.post(
        f"/en/cases/{case.number}/messages", data={"body": body}, headers=HX
    ).get_data(as_text=True)


def test_a_reply_brings_the_thread_and_only_what_else_changed(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    answer = reply(client, case, "More logs")
    assert oob_ids(answer) == {
        "reply": "",
        "thread": "true",
        "case-files": "true",
        "case-live": "innerHTML",
    }
    assert live_text(answer) == "Message sent"
    # The emptied reply box takes the focus (htmx focuses [autofocus]).
    assert re.search(r'<textarea[^>]*\bautofocus\b[^>]*id="body"', answer) or re.search(
        r'<textarea[^>]*id="body"[^>]*\bautofocus\b', answer
    )
    assert_unique_ids(answer)

    move(case, world, "waiting_for_customer")
    answer = reply(client, case, "Answer")
    parts = oob_ids(answer)
    for part in ("case-summary", "case-steps", "history", "shipment"):
        assert parts[part] == "true", part
    assert live_text(answer) == "Status changed to in verification"
    assert 'data-status="in_verification"' in region(answer, "case-summary")
    assert_unique_ids(answer)


def test_an_engineers_first_answer_brings_the_summary(client, world):
    case = new_case(world)
    login(client, world["engineer"], lang="en")
    answer = reply(client, case, "Looking")
    assert oob_ids(answer)["case-summary"] == "true"
    assert "First response due" not in region(answer, "case-summary")
    assert live_text(answer) == "Message sent"


def test_a_status_change_brings_summary_stepper_history_and_shipment(client, world):
    case = new_case(world)
    login(client, world["engineer"], lang="en")
    base = f"/en/staff/cases/{case.number}"
    answer = client.post(
        base + "/transition",
        data={"status": "in_verification", "seen": "new"},
        headers=HX,
    ).get_data(as_text=True)
    assert oob_ids(answer) == {
        "staff-panel": "",
        "case-summary": "true",
        "case-steps": "true",
        "history": "true",
        "shipment": "true",
        "case-live": "innerHTML",
    }
    assert live_text(answer) == "Status changed to in verification"
    assert 'data-status="in_verification"' in region(answer, "case-summary")
    assert re.search(r'<li class="step step-current" aria-current="step"', answer)
    assert re.search(r'<h2 id="staff-title" tabindex="-1" autofocus>', answer)
    assert_unique_ids(answer)

    answer = client.post(
        base + "/assign",
        data={"assignee": str(world["engineer"].id), "seen": "none"},
        headers=HX,
    ).get_data(as_text=True)
    assert oob_ids(answer) == {"staff-panel": "", "case-live": "innerHTML"}
    assert live_text(answer) == f"Assigned to {world['engineer'].full_name}"


def test_a_move_on_a_stale_status_brings_the_summary_as_it_is_now(client, world):
    case = move(new_case(world), world, "in_verification")
    login(client, world["engineer"], lang="en")
    answer = client.post(
        f"/en/staff/cases/{case.number}/transition",
        data={"status": "in_verification", "seen": "new"},  # the page was stale
        headers=HX,
    )
    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert 'data-testid="stale"' in html
    assert oob_ids(html)["case-summary"] == "true"
    assert 'data-status="in_verification"' in region(html, "case-summary")


def test_consent_and_escalation_answers(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    answer = client.post(
        f"/en/cases/{case.number}/consent",
        data={"grant": "y", "partner": str(world["partner"].id)},
        headers=HX,
    ).get_data(as_text=True)
    assert oob_ids(answer) == {"consent": "", "case-live": "innerHTML"}
    assert live_text(answer) == "Partner access has been granted."
    assert re.search(r'<h2 id="consent-title" tabindex="-1" autofocus>', answer)

    answer = client.post(
        f"/en/cases/{case.number}/escalate",
        data={"reason": "Production is down"},
        headers=HX,
    ).get_data(as_text=True)
    assert oob_ids(answer) == {
        "escalation": "",
        "case-summary": "true",
        "case-live": "innerHTML",
    }
    assert 'data-flag="escalated"' in region(answer, "case-summary")
    assert live_text(answer) == "The case has been escalated."
    assert re.search(r'<h2 id="escalation-title" tabindex="-1" autofocus>', answer)


def test_saving_the_address_says_so_and_keeps_the_focus_in_its_section(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    answer = client.post(
        f"/en/cases/{case.number}/site",
        data={"site_address": "ul. Długa 1", "site_contact_name": "Anna"},
        headers=HX,
    ).get_data(as_text=True)
    assert oob_ids(answer) == {"site": "", "case-live": "innerHTML"}
    assert live_text(answer) == "The address has been saved."
    assert re.search(r'<h2 id="site-title" tabindex="-1" autofocus>', answer)


def test_without_javascript_the_actions_redirect_and_the_page_has_no_oob(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    base = f"/en/cases/{case.number}"
    for path, data in (
        ("/messages", {"body": "Plain"}),
        ("/consent", {"grant": "y", "partner": str(world["partner"].id)}),
        ("/escalate", {"reason": "Plain form"}),
    ):
        response = client.post(base + path, data=data)
        assert response.status_code == 303, path
    html = page(client, case)
    assert "hx-swap-oob" not in html and "autofocus" not in html
    assert re.search(r'<div id="case-live" [^>]*role="status"[^>]*></div>', html)
    assert_unique_ids(html)

    client.post("/en/logout")
    login(client, world["engineer"], lang="en")
    response = client.post(
        f"/en/staff/cases/{case.number}/transition",
        data={"status": "in_verification", "seen": "new"},
    )
    assert response.status_code == 303
    html = page(client, case)
    assert "hx-swap-oob" not in html and "autofocus" not in html
    assert_unique_ids(html)


def test_the_poll_brings_the_summary_only_when_it_changed(client, world):
    case = new_case(world)
    login(client, world["customer"], lang="en")
    html = page(client, case)
    state = re.search(r'id="case-state" name="state" value="([^"]+)"', html).group(1)
    assert 'hx-include="#case-state"' in region(html, "thread")
    poll = f"/en/cases/{case.number}/thread"

    same = client.get(poll, query_string={"state": state}, headers=HX)
    assert oob_ids(same.get_data(as_text=True)) == {"thread": ""}

    move(case, world, "in_verification")
    changed = client.get(poll, query_string={"state": state}, headers=HX)
    answer = changed.get_data(as_text=True)
    parts = oob_ids(answer)
    assert parts["thread"] == ""
    for part in ("case-summary", "case-steps", "history", "shipment"):
        assert parts[part] == "true", part
    assert live_text(answer) == "Status changed to in verification"
    assert "autofocus" not in answer  # a poll never moves the focus
