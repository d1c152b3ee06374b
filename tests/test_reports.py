"""Service-level reports: the figures of hand-counted cases across a weekend,
each customer company its own report only, partners none, the CSV and the PDF
of the same figures, bad parameters answered without a 500, and a number of
queries that does not grow with the number of cases."""

import csv
import io
from datetime import UTC, datetime

import pytest
from playhouse.test_utils import count_queries
from pypdf import PdfReader

from hezo import sla
from hezo.models import CaseSatisfaction, Device, SupportCase
from hezo.reports import figures

from .factories import login, make_company, make_contract, make_user

MONTH = "2026-03"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def warsaw(day, hour, minute=0):
    """A March 2026 moment, Warsaw time (CET, UTC+1: DST starts on the 29th)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=sla.WARSAW)


def seed_case(contract, reported, responded=None, **fields):
    device = Device.get(Device.contract == contract)
    n = SupportCase.select().count() + 1
    return SupportCase.create(
        number=f"ZG-2026-{n:06d}",
        company=contract.customer_id,
        contract=contract,
        device=device,
        subject="Awaria",
        reported_at=reported,
        response_due_at=sla.response_due(reported, contract.service_code),
        first_response_at=responded,
        **({"status": "closed"} | fields),
    )


@pytest.fixture
def world(dbconn):
    x = make_company("5260181596", "Żółw Sp. z o.o.")
    y = make_company("6281948218", "Gęś S.A.")
    p = make_company("1860913901", "NetPartner")
    office = make_contract(
        customer=x, partner=p, number="HZ-8X5-1", service_code="PW-AHR-NBD"
    )
    always = make_contract(
        customer=x, number="HZ-24X7-1", serials=("SN-7",), service_code="PW-TAC"
    )
    other = make_contract(customer=y, number="HZ-OTHER-9", serials=("SN-9",))
    e1, e2 = make_user(role="engineer"), make_user(role="engineer")
    for user, first, last in ((e1, "Ewa", "Łącka"), (e2, "Piotr", "Ścisły")):
        user.first_name, user.last_name = first, last
        user.save()
    nbd = "PW-AHR-NBD"
    cases = [
        # 1 Fri 10:00 → 10:30: 0.5 h, met. Delivered on time, returned late.
        seed_case(
            office,
            warsaw(6, 10),
            warsaw(6, 10, 30),
            assignee=e1,
            validated_at=warsaw(6, 11),
            delivery_due_at=sla.delivery_due(warsaw(6, 11), nbd),
            delivered_at=warsaw(9, 15),
            return_due_at=sla.return_due(warsaw(9, 15)),
            returned_at=warsaw(17, 9),
        ),
        # 2 Fri 16:30 → Mon 9:45: 0.5 + 0.75 = 1.25 h, missed (due Mon 9:30).
        # Delivered late (due Tue 17:00), returned in time.
        seed_case(
            office,
            warsaw(6, 16, 30),
            warsaw(9, 9, 45),
            assignee=e1,
            validated_at=warsaw(9, 10),
            delivery_due_at=sla.delivery_due(warsaw(9, 10), nbd),
            delivered_at=warsaw(11, 10),
            return_due_at=sla.return_due(warsaw(11, 10)),
            returned_at=warsaw(17, 9),
        ),
        # 3 Sat 12:00 → Mon 9:20: 20 min of window, met. Never delivered: missed.
        seed_case(
            office,
            warsaw(7, 12),
            warsaw(9, 9, 20),
            assignee=e1,
            validated_at=warsaw(9, 10),
            delivery_due_at=sla.delivery_due(warsaw(9, 10), nbd),
        ),
        # 4 Sun 20:00 → Mon 11:00: 2 h, missed; escalated.
        seed_case(
            office,
            warsaw(8, 20),
            warsaw(9, 11),
            assignee=e2,
            escalated_at=warsaw(9, 10, 30),
        ),
        # 5 24x7 Sat 3:00 → 3:40: 40 min, met.
        seed_case(always, warsaw(7, 3), warsaw(7, 3, 40), assignee=e2),
        # 6 24x7 Sun 22:00 → Mon 0:30: 2.5 h, missed.
        seed_case(always, warsaw(8, 22), warsaw(9, 0, 30), assignee=e2),
        # 7 Mon 9:00, never answered: missed, no response time.
        seed_case(office, warsaw(9, 9), status="new"),
    ]
    # Not in the month: reported on the last evening of February.
    seed_case(office, datetime(2026, 2, 28, 23, 30, tzinfo=sla.WARSAW), warsaw(2, 9))
    # The other company's case: Wed 10:00 → 10:10, met.
    seed_case(other, warsaw(11, 10), warsaw(11, 10, 10), assignee=e1)
    for case, rating in ((cases[0], 5), (cases[1], 2)):
        CaseSatisfaction.create(case=case, rating=rating, service_code=nbd)
    return {
        "x": x,
        "y": y,
        "cases": cases,
        "customer_x": make_user(company=x),
        "customer_y": make_user(company=y),
        "partner": make_user(role="partner", company=p),
        "engineer": e1,
    }


def month_of(company=None):
    start = datetime(2026, 3, 1, tzinfo=sla.WARSAW)
    end = datetime(2026, 4, 1, tzinfo=sla.WARSAW)
    return figures.month_report(start, end, NOW, company)


def test_the_hand_counted_figures_of_one_customer(app, world):
    # The hand counts agree with the portal's clock functions.
    windows = [
        sla.window_time_between(
            c.reported_at, c.first_response_at, "24x7" if i in (4, 5) else "8x5"
        ).total_seconds()
        for i, c in enumerate(world["cases"][:6])
    ]
    assert windows == [1800, 4500, 1200, 7200, 2400, 9000]
    report = month_of(world["x"].id)
    total = report.total
    assert total.cases == 7
    assert (total.response_met, total.response_decided) == (3, 7)
    assert round(total.response_met_pct, 3) == 42.857
    # sorted: 1200 1800 2400 | 4500 7200 9000 → (2400 + 4500) / 2
    assert total.median_seconds == 3450
    # position 5 × 0.9 = 4.5: 7200 + 0.5 × (9000 − 7200)
    assert total.p90_seconds == 8100
    assert (total.delivery_met, total.delivery_decided) == (1, 3)
    assert total.returns_overdue == 1
    assert total.escalations == 1
    assert (total.answers, total.satisfaction) == (2, 3.5)
    by_contract = {r.label: r for r in report.groups["contract"]}
    assert set(by_contract) == {"HZ-8X5-1", "HZ-24X7-1"}
    office = by_contract["HZ-8X5-1"]
    # 1200 1800 4500 7200 → median (1800 + 4500) / 2; p90 at 2.7
    assert (office.cases, office.response_met, office.response_decided) == (5, 2, 5)
    assert office.median_seconds == 3150
    assert office.p90_seconds == pytest.approx(4500 + 0.7 * 2700)
    always = by_contract["HZ-24X7-1"]
    assert always.median_seconds == 5700
    assert always.p90_seconds == pytest.approx(2400 + 0.9 * 6600)
    engineers = {r.label: r for r in report.groups["engineer"]}
    assert engineers["Ewa Łącka"].cases == 3
    assert engineers["Piotr Ścisły"].response_met == 1
    assert [r.key for r in report.groups["engineer"]][-1] is None  # nobody assigned


def test_staff_see_every_customer_and_the_other_company_counts(app, world):
    total = month_of().total
    assert (total.cases, total.response_met, total.response_decided) == (8, 4, 8)
    # 600 1200 1800 2400 4500 7200 9000: the 4th; p90 at 5.4
    assert total.median_seconds == 2400
    assert total.p90_seconds == pytest.approx(7200 + 0.4 * 1800)
    customers = {r.label: r.cases for r in month_of().groups["customer"]}
    assert customers == {"Gęś S.A.": 1, "Żółw Sp. z o.o.": 7}


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_the_page_shows_the_figures_with_a_chart_and_its_table(client, world):
    login(client, world["engineer"])
    html = page(client, f"/pl/reports/?month={MONTH}&customer={world['x'].id}")
    assert "Żółw Sp. z o.o." in html and "42,9 %" in html
    assert "0,96" in html and "2,25" in html  # median, p90 in window hours
    assert "33,3 %" in html and "3,50" in html
    assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "HZ-8X5-1: 40,0 %" in html  # the chart's description
    everyone = page(client, f"/en/reports/?month={MONTH}")
    assert "Gęś S.A." in everyone and "50.0 %" in everyone
    assert f"customer={world['y'].id}" in everyone  # a customer's own report


def test_each_customer_sees_its_own_company_only(app, world):
    x, y = app.test_client(), app.test_client()
    login(x, world["customer_x"])
    login(y, world["customer_y"])
    mine = page(x, f"/pl/reports/?month={MONTH}")
    assert "HZ-8X5-1" in mine and "HZ-OTHER-9" not in mine and "42,9 %" in mine
    # Naming the other company changes nothing: the parameter is not theirs.
    theirs = page(y, f"/pl/reports/?month={MONTH}&customer={world['x'].id}")
    assert "HZ-8X5-1" not in theirs and "Żółw" not in theirs
    assert "HZ-OTHER-9" in theirs and "100,0 %" in theirs
    assert "Ewa Łącka" not in theirs  # no engineer breakdown for customers
    body = y.get(f"/pl/reports/report.csv?month={MONTH}&customer={world['x'].id}")
    rows = list(csv.reader(io.StringIO(body.get_data(as_text=True)), delimiter=";"))
    assert {r[2] for r in rows[1:]} == {"Gęś S.A.", "HZ-OTHER-9", "PW-AHR-NBD"}
    pdf = y.get(f"/pl/reports/report.pdf?month={MONTH}&customer={world['x'].id}")
    assert "Gęś S.A." in pdf_text(pdf.data) and "Żółw" not in pdf_text(pdf.data)


def test_partners_see_no_report(app, world):
    partner = app.test_client()
    login(partner, world["partner"])
    for url in ("/pl/reports/", "/pl/reports/report.csv", "/pl/reports/report.pdf"):
        assert partner.get(f"{url}?month={MONTH}").status_code == 404
    assert "/reports/" not in page(partner, "/pl/partner/")


def test_the_csv_has_the_same_figures(client, world):
    login(client, world["engineer"])
    response = client.get(f"/en/reports/report.csv?month={MONTH}")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    header, lines = rows[0], {(r[1], r[2]): r for r in rows[1:]}
    assert header[6] == "Response within 1 hour met (%)"
    month = lines[("Month", "All customers")]
    assert month[3:9] == ["8", "8", "4", "50.0", "0.67", "2.20"]
    x = lines[("Per customer", "Żółw Sp. z o.o.")]
    assert x[3:] == "7 7 3 42.9 0.96 2.25 3 1 33.3 1 1 2 3.50".split()
    assert ("Per engineer", "nobody assigned") in lines


def test_a_label_a_spreadsheet_would_run_is_quoted(client, world):
    world["y"].name = "=HYPERLINK(1)"
    world["y"].save()
    login(client, world["engineer"])
    text = client.get(f"/pl/reports/report.csv?month={MONTH}").get_data(as_text=True)
    assert ";'=HYPERLINK(1);" in text and ";=HYPERLINK" not in text


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_one_customers_month_as_a_pdf_with_polish_letters(client, world):
    login(client, world["engineer"])
    response = client.get(
        f"/pl/reports/report.pdf?month={MONTH}&customer={world['x'].id}"
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "Żółw Sp. z o.o." in text and "HZ-24X7-1" in text
    assert "42,9 %" in text and "0,96" in text and "2,25" in text
    # The customer's document: no engineer's figures, whoever downloads it.
    assert "Łącka" not in text and "Według inżyniera" not in text
    assert "Raport poziomu usług" in text and "Gęś" not in text


def test_staff_must_name_the_customer_of_a_pdf(client, world):
    login(client, world["engineer"])
    response = client.get(f"/pl/reports/report.pdf?month={MONTH}")
    assert response.status_code == 400
    assert "Wybierz klienta" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query, status",
    [
        ("month=2026-13", 200),
        ("month=%00%FF", 400),  # the app refuses NUL in any parameter
        ("month=" + "9" * 5000, 200),
        ("month=1999-01", 200),
        ("customer=abc", 404),
        ("customer=-1", 404),
        ("customer=99999999999999999999", 404),
        ("customer=999999", 404),
    ],
)
def test_bad_parameters_are_ignored_or_refused(client, world, query, status):
    login(client, world["engineer"])
    for url in ("/pl/reports/", "/pl/reports/report.csv"):
        assert client.get(f"{url}?{query}").status_code == status, (url, query)


def test_the_number_of_queries_does_not_grow_with_the_cases(client, world):
    login(client, world["engineer"])
    url = f"/pl/reports/?month={MONTH}"
    client.get(url)
    with count_queries() as few:
        page(client, url)
    with count_queries() as direct_few:
        month_of()
    office = world["cases"][0].contract
    for day in range(10, 28):
        seed_case(office, warsaw(day, 12), warsaw(day, 13), assignee=world["engineer"])
    with count_queries() as many:
        html = page(client, url)
    with count_queries() as direct_many:
        assert month_of().total.cases == 8 + 18
    assert "26" in html
    assert many.count == few.count
    assert direct_many.count == direct_few.count == 2


def test_a_variant_made_after_start_up_is_a_service_of_its_own(app, world):
    from hezo import catalogue_db

    from .test_service_catalogue import ALWAYS_NBD

    admin = make_user(role="admin", company=None)
    catalogue_db.save_variant(ALWAYS_NBD, admin, datetime.now(UTC))
    custom = make_contract(
        customer=world["x"],
        number="HZ-AHB-1",
        serials=("SN-V",),
        service_code="AHB-24x7xNBD",
    )
    seed_case(custom, warsaw(7, 12), warsaw(7, 12, 30))  # a Saturday
    by_service = {r.label: r for r in month_of(world["x"].id).groups["service"]}
    assert by_service["AHB-24x7xNBD"].cases == 1
    assert by_service["AHB-24x7xNBD"].median_seconds == 1800  # counted all day


def test_custom_windows_count_their_own_hours_across_a_closed_day_and_the_clock_change(
    app, world
):
    """Response times in the window each case opened with, worked by hand.
    Mon-Fri 8:00-17:00: Fri 16:30 -> Mon 8:45 is 0.5 h + 0.75 h = 4500 s
    (the 8x5 calendar would give 0.5 h). Every day 0:00-24:00 except
    holidays and closed days (Warsaw midnight is 23:00 UTC, so its days
    straddle two UTC days): Thu 12th 22:00 -> Sat 14th 1:00 across the closed
    Friday is 2 h + 1 h = 10800 s (27 h in real time), and Sat 28th 23:00 ->
    Sun 29th 4:00, the night the clocks go forward, is 4 h = 14400 s.
    Changing the variant afterwards moves none of it: the cases keep their
    stored terms."""
    from dataclasses import replace

    from hezo import catalogue, catalogue_db

    from .test_service_catalogue import DAILY, NINE_TO_FIVE

    admin = make_user(role="admin", company=None)
    now = datetime.now(UTC)
    nine = catalogue_db.save_variant(NINE_TO_FIVE, admin, now)
    catalogue_db.save_variant(DAILY, admin, now)
    assert catalogue_db.add_closed_day(
        datetime(2026, 3, 13).date(), "stock", admin, now
    )
    x = world["x"]
    eight = make_contract(
        customer=x,
        number="HZ-885-1",
        serials=("SN-885",),
        service_code=NINE_TO_FIVE.code,
    )
    daily = make_contract(
        customer=x, number="HZ-DAY-1", serials=("SN-DAY",), service_code=DAILY.code
    )

    def seeded(contract, reported, responded):
        terms = catalogue.get_plan(contract.service_code).terms()
        return seed_case(contract, reported, responded, service_terms=terms)

    seeded(eight, warsaw(6, 16, 30), warsaw(9, 8, 45))
    seeded(daily, warsaw(12, 22), warsaw(14, 1))
    seeded(daily, warsaw(28, 23), datetime(2026, 3, 29, 4, tzinfo=sla.WARSAW))
    # Later the 8x5x8 window is moved to 10:00-17:00 and every day opens
    # at 6:00: the cases above keep the hours they opened with.
    catalogue_db.save_variant(replace(NINE_TO_FIVE, opens=10), admin, now, row=nine)
    daily_row = catalogue_db.variant(
        catalogue_db.ServiceVariant.get(code=DAILY.code).id
    )
    catalogue_db.save_variant(replace(DAILY, opens=6), admin, now, row=daily_row)

    by_service = {r.label: r for r in month_of(x.id).groups["service"]}
    assert by_service[NINE_TO_FIVE.code].median_seconds == 4500
    assert by_service[DAILY.code].median_seconds == (10800 + 14400) / 2
    assert by_service[DAILY.code].p90_seconds == 10800 + 0.9 * 3600
    by_contract = {r.label: r for r in month_of(x.id).groups["contract"]}
    assert by_contract["HZ-DAY-1"].cases == 2

    # A case without stored terms (migrated) is counted in its contract's
    # window as it is now: 10:00-17:00, so Fri 16:30 -> Mon 10:30 is 1 h.
    seed_case(eight, warsaw(20, 16, 30), warsaw(23, 10, 30))
    by_service = {r.label: r for r in month_of(x.id).groups["service"]}
    assert by_service[NINE_TO_FIVE.code].median_seconds == (4500 + 3600) / 2
