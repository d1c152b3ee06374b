"""The service catalogue in the database (issue 20, part 4) and the office's
closed days (part 3): custom variants' clocks, hand-worked in Warsaw
wall-clock time across a Polish public holiday and both daylight-saving
changes; closed days skipped by 8x5 but not by 24x7; a register row naming
a variant; open cases keeping their clocks when a variant changes; the
console's pages."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from playhouse.test_utils import count_queries

from hezo import catalogue, catalogue_db, sla
from hezo.cases.services import open_case
from hezo.cases.workflow import transition
from hezo.imports.contracts import import_contract_register
from hezo.models import AuditEvent, ClosedDay, Contract, ServiceVariant, SupportCase
from hezo.sla import WARSAW

from .factories import login, make_company, make_contract, make_user


def waw(*args: int, fold: int = 0) -> datetime:
    """A Warsaw wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=WARSAW, fold=fold).astimezone(UTC)


#: 8x5x8 as priced for a customer: Mon-Fri 8:00-17:00, closed on holidays,
#: response 2 hours, replacement 8 hours, both within the window.
NINE_TO_FIVE = catalogue_db.VariantTerms(
    code="AHB-8x5x8",
    name="AHB 8x5x8",
    name_pl="AHB 8x5x8",
    support=False,
    onsite=False,
    days="12345",
    opens=8,
    closes=17,
    holidays=True,
    response_hours=2,
    replacement="8H",
)
#: Every day, all day, but closed on public holidays and closed days
#: (not 24x7: counted day by day, each day as long as it really is).
DAILY = replace(
    NINE_TO_FIVE,
    code="TAC-DAILY",
    support=True,
    days="1234567",
    opens=0,
    closes=24,
    response_hours=4,
    replacement="",
)
#: 24x7xNBD: requests all the time, replacement the next business day.
ALWAYS_NBD = replace(
    DAILY, code="AHB-24x7xNBD", holidays=False, response_hours=1, replacement="NBD"
)


@pytest.fixture
def admin(dbconn):
    return make_user(role="admin", company=None, email="admin@example.pl")


def variant(admin, terms) -> catalogue.ServicePlan:
    catalogue_db.save_variant(terms, admin, datetime.now(UTC))
    return catalogue.get_plan(terms.code)


# --- clocks of custom variants, hand-worked ----------------------------------


def test_custom_window_across_a_polish_public_holiday(admin):
    plan = variant(admin, NINE_TO_FIVE)
    assert plan.window == "custom" and plan.hours.opens == 8
    # Tue 10 Nov 2026 16:30: 30 min left that day; Wed 11 Nov is
    # Independence Day; the other 1 h 30 min from Thu 12 Nov 8:00.
    assert sla.response_due(waw(2026, 11, 10, 16, 30), plan) == waw(2026, 11, 12, 9, 30)
    # Validated Tue 15:00: 2 h that day, 6 h on Thursday from 8:00.
    assert sla.delivery_due(waw(2026, 11, 10, 15, 0), plan) == waw(2026, 11, 12, 14, 0)
    # The 8:00 opening is the variant's own (the 8x5 package opens at 9:00).
    assert sla.response_due(waw(2026, 11, 12, 7, 0), plan) == waw(2026, 11, 12, 10, 0)
    assert sla.response_due(waw(2026, 11, 12, 7, 0), "PW-AHR-NBD") == waw(
        2026, 11, 12, 10, 0
    )


def test_custom_window_across_the_autumn_change(admin):
    plan = variant(admin, NINE_TO_FIVE)
    # Fri 23 Oct 2026 16:00 CEST (14:00 UTC): 1 h that day; clocks go back
    # on Sun 25 Oct; the second hour from Mon 26 Oct 8:00 CET (07:00 UTC).
    due = sla.response_due(waw(2026, 10, 23, 16, 0), plan)
    assert due == waw(2026, 10, 26, 9, 0) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_all_day_window_across_the_spring_change_counts_real_hours(admin):
    plan = variant(admin, DAILY)
    # Sat 28 Mar 2026 22:00 CET (21:00 UTC) + 4 real hours = 01:00 UTC on
    # Sun 29 Mar, which is 3:00 CEST: 2:00-3:00 never happened.
    due = sla.response_due(waw(2026, 3, 28, 22, 0), plan)
    assert due == datetime(2026, 3, 29, 1, 0, tzinfo=UTC) == waw(2026, 3, 29, 3, 0)
    # Sat 23:00 CET: 1 h to midnight, then 3 real hours of Sunday from
    # 0:00 CET (23:00 UTC): 02:00 UTC, 4:00 CEST (not 3:00 by the wall).
    due = sla.response_due(waw(2026, 3, 28, 23, 0), plan)
    assert due == datetime(2026, 3, 29, 2, 0, tzinfo=UTC) == waw(2026, 3, 29, 4, 0)
    # The same window skips Easter Sunday and Monday (5-6 Apr 2026) whole:
    # Sat 4 Apr 22:00 CEST + 2 h, then 2 h from Tue 7 Apr 0:00.
    assert sla.response_due(waw(2026, 4, 4, 22, 0), plan) == waw(2026, 4, 7, 2, 0)


def test_all_day_window_across_the_autumn_change_counts_the_repeated_hour(admin):
    plan = variant(admin, DAILY)
    # Sun 25 Oct 2026 0:00 CEST (22:00 UTC on the 24th) + 4 real hours:
    # 2:00-3:00 happens twice, so it is 3:00 CET (02:00 UTC).
    assert sla.response_due(waw(2026, 10, 25, 0, 0), plan) == datetime(
        2026, 10, 25, 2, 0, tzinfo=UTC
    )
    # Sat 24 Oct 23:00 CEST: 1 h to midnight, then 3 real hours of Sunday
    # from 0:00 CEST (22:00 UTC): 01:00 UTC, the second 2:00 (CET), not 3:00.
    due = sla.response_due(waw(2026, 10, 24, 23, 0), plan)
    assert due == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert due == waw(2026, 10, 25, 2, 0, fold=1)


def test_24x7_nbd_variant(admin):
    plan = variant(admin, ALWAYS_NBD)
    assert plan.window == "24x7" and plan.hours.continuous
    # Requests all the time: Sat 24 Oct 2026 23:30 CEST + 1 real hour,
    # across the night the clocks go back.
    assert sla.response_due(waw(2026, 10, 24, 23, 30), plan) == waw(2026, 10, 25, 0, 30)
    # NBD: 17:00 of the next business day (Mon 26 Oct, CET).
    assert sla.delivery_due(waw(2026, 10, 24, 10, 0), plan) == waw(2026, 10, 26, 17, 0)
    # Validated on Tue 10 Nov: Wed 11 Nov is a holiday, so Thursday.
    assert sla.delivery_due(waw(2026, 11, 10, 9, 0), plan) == waw(2026, 11, 12, 17, 0)


# --- closed days ---------------------------------------------------------------


def test_a_closed_day_is_skipped_by_8x5_but_not_by_24x7(admin):
    monday = date(2026, 12, 28)  # after Christmas; Thu 24 - Sat 26 are holidays
    reported = waw(2026, 12, 23, 16, 30)
    assert sla.response_due(reported, "PW-AHR-NBD") == waw(2026, 12, 28, 9, 30)
    assert sla.delivery_due(reported, "PW-AHR-NBD") == waw(2026, 12, 28, 17, 0)
    assert catalogue_db.add_closed_day(monday, "inventory", admin, datetime.now(UTC))
    assert not sla.is_business_day(monday)
    assert sla.response_due(reported, "PW-AHR-NBD") == waw(2026, 12, 29, 9, 30)
    assert sla.delivery_due(reported, "PW-AHR-NBD") == waw(2026, 12, 29, 17, 0)
    plan = variant(admin, NINE_TO_FIVE)  # a custom window closed on holidays
    assert sla.response_due(reported, plan) == waw(2026, 12, 29, 9, 30)
    # 24x7 counts through it.
    during = waw(2026, 12, 28, 10, 0)
    assert sla.response_due(during, "PW-TAC") == waw(2026, 12, 28, 11, 0)
    assert sla.window_opens(during, "24x7") == during
    assert catalogue_db.remove_closed_day(monday, admin, datetime.now(UTC))
    assert sla.response_due(reported, "PW-AHR-NBD") == waw(2026, 12, 28, 9, 30)


# --- the register and open cases --------------------------------------------------

HEADER = (
    "contract_number;legacy_contract_number;customer_nip;customer_name;"
    "partner_nip;partner_name;service_code;start_date;end_date;"
    "serial_number;product\n"
)


def test_a_register_row_may_name_a_variant(admin, tmp_path):
    row = (
        "HZ-2026-000901;;5260181596;Żółw Sp. z o.o.;;;{code};2025-01-01;2030-12-31;"
        "SN-9;X465\n"
    )
    path = tmp_path / "register.csv"
    path.write_text(HEADER + row.format(code="AHB-8x5x8"), encoding="utf-8")
    report = import_contract_register(path)
    assert [e.reason for e in report.rejected] == ["unknown service code 'AHB-8x5x8'"]
    variant(admin, NINE_TO_FIVE)
    report = import_contract_register(path)
    assert report.rejected == []
    contract = Contract.get(Contract.number == "HZ-2026-000901")
    assert contract.service_code == "AHB-8x5x8"
    assert catalogue.get_plan(contract.service_code).response_hours == 2


def test_changing_a_variant_never_moves_an_open_cases_clocks(app, admin):
    variant(admin, NINE_TO_FIVE)
    company = make_company()
    contract = make_contract(
        customer=company,
        service_code="AHB-8x5x8",
        start=date(2025, 1, 1),
        end=date(2030, 12, 31),
    )
    customer = make_user(company=company)
    device = contract.devices.get()

    def report(now):
        return open_case(
            actor=customer,
            contract=contract,
            device=device,
            subject="Switch down",
            description="No link",
            severity="major",
            contact_phone="",
            files=[],
            now=now,
        )

    # Tue 10 Nov 2026 16:30 (as in the holiday vector): due Thu 9:30.
    case = report(waw(2026, 11, 10, 16, 30))
    assert case.response_due_at == waw(2026, 11, 12, 9, 30)
    row = ServiceVariant.get(ServiceVariant.code == "AHB-8x5x8")
    faster = replace(ALWAYS_NBD, code="AHB-8x5x8", replacement="4H")
    catalogue_db.save_variant(faster, admin, datetime.now(UTC), row)
    assert catalogue.get_plan("AHB-8x5x8").window == "24x7"
    stored = SupportCase.get_by_id(case.id)
    assert stored.response_due_at == waw(2026, 11, 12, 9, 30)
    assert stored.next_due_at == waw(2026, 11, 12, 9, 30)
    # The delivery clock starts later, still on the terms the case opened
    # with: 8 h within Mon-Fri 8-17, not 4 real hours.
    engineer = make_user(role="engineer", company=None)
    transition(stored, engineer, "in_verification", waw(2026, 11, 12, 9, 0))
    transition(stored, engineer, "validated", waw(2026, 11, 12, 15, 0))
    assert SupportCase.get_by_id(case.id).delivery_due_at == waw(2026, 11, 13, 14, 0)
    # A pause pushes the response clock by the old window's time too.
    other = report(waw(2026, 11, 13, 16, 0))  # opened after the change: 24x7, 1 h
    assert other.response_due_at == waw(2026, 11, 13, 17, 0)


def test_reading_the_catalogue_costs_no_query(app, admin):
    variant(admin, NINE_TO_FIVE)
    with app.app_context(), count_queries() as counter:
        assert catalogue.get_plan("AHB-8x5x8").response_hours == 2
        assert catalogue.get_plan("PW-TAC").window == "24x7"
        assert "AHB-8x5x8" in catalogue.SERVICES
        sla.response_due(waw(2026, 11, 10, 16, 30), "AHB-8x5x8")
    assert counter.count == 0


def test_another_process_sees_a_change_after_the_refresh(app, admin, monkeypatch):
    cache = app.extensions["catalogue"]
    ServiceVariant.create(code="LATE-1", name="Late", name_pl="Późny")
    assert catalogue.get_plan("LATE-1") is None  # this copy is fresh
    monkeypatch.setattr(cache, "loaded_at", cache.loaded_at - cache.refresh - 1)
    assert catalogue.get_plan("LATE-1").name_pl == "Późny"


# --- the console ------------------------------------------------------------------


def form(**fields):
    data = {
        "code": "SOS-9x5x6",
        "name": "SOS 9x5x6",
        "name_pl": "SOS 9x5x6 (serwis na miejscu)",
        "onsite": "y",
        "days": ["1", "2", "3", "4", "5"],
        "opens": "8",
        "closes": "17",
        "holidays": "y",
        "response_hours": "2",
        "replacement": "hours",
        "replacement_hours": "6",
        "submission_key": "k" * 32,
    }
    return data | fields


@pytest.fixture
def console(app, admin):
    client = app.test_client()
    login(client, admin)
    return client


def test_an_administrator_creates_a_variant_once_audited(console):
    page = console.get("/pl/admin/catalogue").get_data(as_text=True)
    assert "PW-AHR-NBD" in page and "Brak wariantów" in page
    assert console.get("/pl/admin/catalogue/variants/new").status_code == 200
    first = console.post("/pl/admin/catalogue/variants/new", data=form())
    again = console.post("/pl/admin/catalogue/variants/new", data=form())
    assert first.status_code == again.status_code == 303
    made = ServiceVariant.select().where(ServiceVariant.code == "SOS-9x5x6")
    assert made.count() == 1
    plan = catalogue.get_plan("SOS-9x5x6")
    assert (plan.hours.days, plan.hours.opens, plan.replacement) == ("12345", 8, "6H")
    assert plan.onsite and not plan.support and plan.response_hours == 2
    events = AuditEvent.select().where(AuditEvent.action == "catalogue_variant_created")
    assert [e.object_id for e in events] == ["SOS-9x5x6"]
    page = console.get("/pl/admin/catalogue").get_data(as_text=True)
    assert "SOS 9x5x6 (serwis na miejscu)" in page and "w ciągu 6 godzin" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": "PW-TAC"}, "Inny pakiet lub wariant ma już ten kod."),
        ({"code": "pw-tac"}, "Inny pakiet lub wariant ma już ten kod."),
        ({"code": "ZŁY KOD"}, "Od 2 do 20 liter"),
        ({"closes": "8"}, "Okno musi się zamykać po otwarciu."),
        ({"opens": "25"}, "Podaj liczbę całkowitą od 0 do 23."),
        ({"days": []}, "Wybierz co najmniej jeden dzień."),
        ({"replacement_hours": ""}, "Podaj liczbę godzin."),
        ({"response_hours": "0"}, "Podaj liczbę całkowitą od 1 do 168."),
        ({"name_pl": ""}, "To pole jest wymagane."),
    ],
)
def test_a_bad_variant_is_refused_with_a_translated_message(console, fields, message):
    response = console.post("/pl/admin/catalogue/variants/new", data=form(**fields))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert not ServiceVariant.select().where(~ServiceVariant.package).exists()


def test_an_administrator_changes_a_variant_audited(console, admin):
    row = catalogue_db.save_variant(NINE_TO_FIVE, admin, datetime.now(UTC))
    url = f"/pl/admin/catalogue/variants/{row.id}"
    assert 'value="AHB-8x5x8"' in console.get(url).get_data(as_text=True)
    changed = form(code="AHB-8x5x8", response_hours="3")
    assert console.post(url, data=changed).status_code == 303
    assert catalogue.get_plan("AHB-8x5x8").response_hours == 3
    event = AuditEvent.get(AuditEvent.action == "catalogue_variant_changed")
    assert "response=2h" in event.details and "response=3h" in event.details
    # A package is not a variant: no edit page.
    package = ServiceVariant.get(ServiceVariant.code == "PW-TAC")
    assert console.get(f"/pl/admin/catalogue/variants/{package.id}").status_code == 404
    # A variant's code stays (contracts name it): a changed one is ignored.
    other = catalogue_db.save_variant(DAILY, admin, datetime.now(UTC))
    response = console.post(
        f"/pl/admin/catalogue/variants/{other.id}",
        data=form(code="ahb-8X5x8", submission_key="o" * 32),
    )
    assert response.status_code == 303
    assert ServiceVariant.get_by_id(other.id).code == "TAC-DAILY"
    assert catalogue.get_plan("TAC-DAILY").hours.opens == 8  # the form's


def test_closed_days_are_added_and_removed_once_audited(console):
    for _n in range(2):
        response = console.post(
            "/pl/admin/catalogue/closed-days", data={"day": "2030-01-02", "note": "x"}
        )
        assert response.status_code == 303
    assert ClosedDay.select().count() == 1
    assert "2030" in console.get("/pl/admin/catalogue").get_data(as_text=True)
    assert date(2030, 1, 2) in catalogue.closed_days()
    bad = console.post("/pl/admin/catalogue/closed-days", data={"day": "2030-02-30"})
    assert bad.status_code == 422
    for _n in range(2):
        url = "/pl/admin/catalogue/closed-days/2030-01-02/remove"
        assert console.post(url).status_code == 303
    assert ClosedDay.select().count() == 0 and not catalogue.closed_days()
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions.count("catalogue_closed_day_added") == 1
    assert actions.count("catalogue_closed_day_removed") == 1
    nope = console.post("/pl/admin/catalogue/closed-days/nope/remove")
    assert nope.status_code == 404


def test_only_administrators_reach_the_catalogue(app, dbconn):
    engineer = make_user(role="engineer", company=None)
    client = app.test_client()
    login(client, engineer)
    assert client.get("/pl/admin/catalogue").status_code in (403, 404)
    url = "/pl/admin/catalogue/closed-days"
    response = client.post(url, data={"day": "2030-01-02"})
    assert response.status_code in (403, 404)
    assert not ClosedDay.select().exists()


def test_window_words(app):
    with app.test_request_context("/en/"):
        assert catalogue.NAMED_WINDOWS["8x5"].text().startswith("Mon–Fri 9:00–17:00")
        window = catalogue.Window("1356", 8, 18, False)
        assert window.text() == "Mon, Wed, Fri–Sat 8:00–18:00 Warsaw time"
    assert timedelta(0) == sla.window_time_between(
        waw(2026, 11, 11, 10, 0), waw(2026, 11, 11, 12, 0), "8x5"
    )


def test_a_contract_on_a_variant_shows_its_own_terms(app, admin):
    variant(admin, NINE_TO_FIVE)
    company = make_company()
    make_contract(customer=company, service_code="AHB-8x5x8")
    client = app.test_client()
    login(client, make_user(company=company))
    page = client.get("/en/contracts/").get_data(as_text=True)
    assert "AHB 8x5x8" in page and "within 8 hours" in page
    assert "Mon–Fri 8:00–17:00 Warsaw time, except public holidays" in page


def test_only_a_variant_no_contract_has_is_deleted_once_audited(console, admin):
    used = catalogue_db.save_variant(NINE_TO_FIVE, admin, datetime.now(UTC))
    unused = catalogue_db.save_variant(DAILY, admin, datetime.now(UTC))
    make_contract(number="HZ-885-7", serials=("SN-885",), service_code=used.code)
    page = console.get(f"/pl/admin/catalogue/variants/{used.id}").text
    assert f'href="/pl/admin/catalogue/variants/{used.id}/delete"' in page
    # The question first: a used variant says why it stays, offering no button.
    asked = console.get(f"/pl/admin/catalogue/variants/{used.id}/delete").text
    assert "1 umowa ma wariant AHB-8x5x8: nie można go usunąć." in asked
    assert 'data-testid="confirm-delete-variant"' not in asked
    asked = console.get(f"/pl/admin/catalogue/variants/{unused.id}/delete").text
    assert "Usunąć wariant TAC-DAILY?" in asked
    assert 'data-testid="confirm-delete-variant"' in asked
    assert catalogue.get_plan("TAC-DAILY") is not None  # asking deletes nothing
    refused = console.post(f"/pl/admin/catalogue/variants/{used.id}/delete")
    assert refused.status_code == 409
    assert "1 umowa ma wariant AHB-8x5x8: nie można go usunąć." in refused.text
    assert catalogue.get_plan("AHB-8x5x8") is not None

    # A double click: deleted once, then told it is gone.
    url = f"/pl/admin/catalogue/variants/{unused.id}/delete"
    first = console.post(url, follow_redirects=True)
    again = console.post(url, follow_redirects=True)
    assert first.status_code == again.status_code == 200
    assert "Wariant TAC-DAILY został usunięty." in first.text
    assert "Ten wariant już nie istnieje." in again.text
    assert catalogue.get_plan("TAC-DAILY") is None
    assert (
        not ServiceVariant.select().where(ServiceVariant.code == "TAC-DAILY").exists()
    )
    events = AuditEvent.select().where(AuditEvent.action == "catalogue_variant_deleted")
    assert [e.object_id for e in events] == ["TAC-DAILY"]
    package = ServiceVariant.get(ServiceVariant.code == "PW-TAC")
    url = f"/pl/admin/catalogue/variants/{package.id}/delete"
    assert console.post(url).status_code == 404
    assert catalogue.get_plan("PW-TAC") is not None


def test_a_variants_names_lose_direction_overrides(console):
    """Variant names reach customers' contracts, cases and PDFs: a U+202E in
    one would show the rest of it reversed (seen at phone width)."""
    fields = form(name="Walk \u202e9x5", name_pl="Spacer \u202eodwrócony")
    assert (
        console.post("/pl/admin/catalogue/variants/new", data=fields).status_code == 303
    )
    plan = catalogue.get_plan("SOS-9x5x6")
    assert (plan.name, plan.name_pl) == ("Walk 9x5", "Spacer odwrócony")
