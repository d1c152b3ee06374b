"""Journey 3: the contracts of the customer's company, search, paging, serials."""

import re
from datetime import date, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from playhouse.test_utils import count_queries

from hezo.models import Device

from .factories import login, make_company, make_contract, make_user

HX = {"HX-Request": "true"}
TODAY = date.today()


@pytest.fixture
def company(dbconn):
    return make_company("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o.")


@pytest.fixture
def other_company(dbconn):
    return make_company("6281948218", "Obca Firma S.A.")


@pytest.fixture
def partner(dbconn):
    return make_company("7792433527", "Partner Sieciowy Sp. z o.o.")


@pytest.fixture
def customer(client, company):
    user = make_user(company=company)
    login(client, user)
    return user


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def rows(response) -> int:
    return response.get_data(as_text=True).count('data-testid="contract-row"')


def report_links(response) -> list[dict]:
    hrefs = re.findall(r'href="([^"]*/cases/new\?[^"]*)"', text(response))
    return [
        {"path": urlsplit(h).path}
        | {k: v[0] for k, v in parse_qs(urlsplit(h).query).items()}
        for h in hrefs
    ]


def with_product(contract, product):
    Device.update(product=product).where(Device.contract == contract).execute()
    return contract


def test_list_shows_numbers_service_period_partner_and_inclusions(
    client, company, partner, customer
):
    make_contract(
        customer=company,
        partner=partner,
        number="HZ-2026-000001",
        legacy_number="PW/2023/0456",
        service_code="PW-AHR-NBD",
        start=date(2026, 1, 1),
        end=TODAY + timedelta(days=200),
    )
    page = text(client.get("/en/contracts/"))
    assert "HZ-2026-000001" in page and "PW/2023/0456" in page
    assert "Next Business Day Advanced Hardware Replacement" in page
    assert "next business day" in page and "business hours, Mon–Fri 9:00–17:00" in page
    assert "Partner Sieciowy Sp. z o.o." in page
    assert "1 Jan 2026" in page


def test_list_shows_active_expiring_and_expired_status(client, company, customer):
    make_contract(customer=company, end=TODAY + timedelta(days=200))
    make_contract(customer=company, end=TODAY + timedelta(days=30))
    make_contract(
        customer=company,
        start=TODAY - timedelta(days=400),
        end=TODAY - timedelta(days=1),
    )
    page = text(client.get("/en/contracts/"))
    statuses = re.findall(r'data-contract="(\w+)">\s*(\w+)', page)
    assert sorted(statuses) == [
        ("active", "active"),
        ("expired", "expired"),
        ("expiring", "expiring"),
    ]


def test_list_never_shows_another_companys_contracts(
    client, company, other_company, customer
):
    make_contract(customer=company, number="HZ-2026-000001")
    make_contract(
        customer=other_company, number="HZ-2026-999999", serials=("SECRET-1",)
    )
    assert "HZ-2026-999999" not in text(client.get("/en/contracts/"))
    for query in ("HZ-2026-999999", "secret", "Obca"):
        results = client.get("/en/contracts/", query_string={"q": query}, headers=HX)
        assert rows(results) == 0 and "SECRET-1" not in text(results)


@pytest.mark.parametrize("query", ["1942Y-40125", "  1942y-40125  ", "942y-401"])
def test_search_by_serial_ignores_case_and_spaces(client, company, customer, query):
    make_contract(
        customer=company,
        number="HZ-2026-000001",
        serials=("1942Y-40125", "1942Y-40126"),
    )
    make_contract(customer=company, number="HZ-2026-000002", serials=("AB-1",))
    response = client.get("/en/contracts/", query_string={"q": query})
    assert rows(response) == 1 and "HZ-2026-000001" in text(response)


@pytest.mark.parametrize("query", ["pw/2023/0456", "HZ-2026-000001", "2026-000001"])
def test_search_by_either_contract_number(client, company, customer, query):
    make_contract(
        customer=company, number="HZ-2026-000001", legacy_number="PW/2023/0456"
    )
    make_contract(
        customer=company, number="HZ-2026-000002", legacy_number="PW/2024/0001"
    )
    response = client.get("/en/contracts/", query_string={"q": query})
    assert rows(response) == 1 and "HZ-2026-000001" in text(response)


def test_search_by_product(client, company, customer):
    with_product(
        make_contract(customer=company, number="HZ-2026-000001"),
        "ExtremeSwitching 5520-24T",
    )
    with_product(make_contract(customer=company, number="HZ-2026-000002"), "AP5050U")
    response = client.get("/en/contracts/?q=switching+5520")
    assert rows(response) == 1 and "HZ-2026-000001" in text(response)


@pytest.mark.parametrize("typed", ["%", "_", "\\"])
def test_search_wildcards_are_literal(client, company, customer, typed):
    make_contract(customer=company)
    response = client.get("/en/contracts/", query_string={"q": typed})
    assert rows(response) == 0
    assert f"No contract matches “{typed}”." in text(response)


def test_paging_splits_25_contracts_into_two_pages(client, company, customer):
    for n in range(25):
        make_contract(customer=company, number=f"HZ-2026-{n:06d}")
    first = client.get("/en/contracts/")
    second = client.get("/en/contracts/?page=2")
    assert rows(first) == 20 and rows(second) == 5
    assert "Page 1 of 2" in text(first) and "Page 2 of 2" in text(second)
    assert 'href="/en/contracts/?page=2"' in text(first)
    assert 'href="/en/contracts/?page=1"' in text(second)
    assert "25 contracts" in text(first)


@pytest.mark.parametrize("page", ["99", "0", "-1", "x"])
def test_paging_out_of_range_is_clamped(client, company, customer, page):
    for _n in range(21):
        make_contract(customer=company)
    response = client.get(f"/en/contracts/?page={page}")
    assert response.status_code == 200 and rows(response) in (20, 1)


def test_paging_keeps_the_search(client, company, customer):
    for n in range(22):
        make_contract(customer=company, serials=(f"FLEET-{n}",))
    make_contract(customer=company, serials=("OTHER-1",))
    page = client.get("/en/contracts/?q=fleet").get_data(as_text=True)
    assert 'href="/en/contracts/?q=fleet&amp;page=2"' in page


def test_list_htmx_request_returns_the_rows_fragment(client, company, customer):
    make_contract(customer=company, number="HZ-2026-000001")
    fragment = client.get("/en/contracts/?q=HZ", headers=HX)
    page = client.get("/en/contracts/?q=HZ")
    assert "<html" not in text(fragment) and "HZ-2026-000001" in text(fragment)
    # The fragment is the element it replaces (outerHTML): one #contract-rows
    # in the fragment and one in the page, never one nested in another.
    assert text(fragment).count('id="contract-rows"') == 1
    assert "<html" in text(page) and text(page).count('id="contract-rows"') == 1
    assert "HX-Request" in fragment.vary and "HX-Request" in page.vary


def test_list_page_has_a_labelled_search_that_works_without_javascript(
    client, company, customer
):
    page = text(client.get("/en/contracts/?q=abc"))
    assert re.search(r'<label[^>]* for="contract-search">', page)
    assert re.search(r'<form[^>]*method="get"[^>]*action="/en/contracts/"', page)
    assert 'name="q" value="abc"' in page
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert 'aria-live="polite"' in page


@pytest.mark.parametrize("headers", [{}, HX])
def test_serials_of_another_companys_contract_are_not_found(
    client, other_company, customer, headers
):
    theirs = make_contract(customer=other_company)
    response = client.get(f"/en/contracts/{theirs.id}/serials", headers=headers)
    assert response.status_code == 404
    assert "SN-1" not in text(response)


@pytest.mark.parametrize("headers", [{}, HX])
def test_serials_of_a_missing_contract_are_not_found(client, customer, headers):
    response = client.get("/en/contracts/999999/serials", headers=headers)
    assert response.status_code == 404


def test_serials_list_shows_products(client, company, customer):
    contract = make_contract(customer=company, serials=("AA-1", "BB-2"))
    with_product(contract, "ExtremeSwitching X465-48W")
    url = f"/en/contracts/{contract.id}/serials"
    fragment, page = client.get(url, headers=HX), client.get(url)
    for response in (fragment, page):
        assert response.status_code == 200
        body = text(response)
        assert "AA-1" in body and "BB-2" in body
        assert "ExtremeSwitching X465-48W" in body
        assert "HX-Request" in response.vary
    assert "<html" not in text(fragment) and "<html" in text(page)
    assert contract.number in text(page)


def test_list_loads_serials_on_demand(client, company, customer):
    contract = make_contract(customer=company, serials=("AA-1", "BB-2"))
    page = text(client.get("/en/contracts/"))
    url = f"/en/contracts/{contract.id}/serials"
    assert f'hx-get="{url}"' in page and f'href="{url}"' in page
    assert "AA-1" not in page and "2 serial numbers" in page


@pytest.mark.parametrize("days_left", [200, 10])
def test_report_a_problem_link_for_active_and_expiring_contracts(
    client, company, customer, days_left
):
    contract = make_contract(
        customer=company,
        serials=("AA-1", "BB-2"),
        end=TODAY + timedelta(days=days_left),
    )
    links = report_links(client.get(f"/en/contracts/{contract.id}/serials"))
    assert links == [
        {"path": "/en/cases/new", "contract": contract.number, "serial": "AA-1"},
        {"path": "/en/cases/new", "contract": contract.number, "serial": "BB-2"},
    ]


def test_report_a_problem_link_absent_for_expired_contracts(client, company, customer):
    contract = make_contract(
        customer=company,
        start=TODAY - timedelta(days=400),
        end=TODAY - timedelta(days=1),
    )
    url = f"/en/contracts/{contract.id}/serials"
    assert report_links(client.get(url)) == []
    assert report_links(client.get(url, headers=HX)) == []


def counted_get(app, client, url):
    """The response and its SELECT count, the signed-in user loaded afresh.

    A new app context gives the request a fresh ``g``, as in production (the
    ``dbconn`` fixture's context would otherwise cache ``current_user``).
    """
    with app.app_context(), count_queries(only_select=True) as counter:
        response = client.get(url)
    return response, counter.count


def test_list_query_count_does_not_grow_with_contracts_or_serials(
    app, client, company, partner, customer
):
    for _n in range(3):
        make_contract(customer=company, partner=partner)
    few, few_count = counted_get(app, client, "/en/contracts/")
    for n in range(30):
        make_contract(
            customer=company,
            partner=partner if n % 2 else None,
            serials=[f"S{n}-{k}" for k in range(10)],
        )
    many, many_count = counted_get(app, client, "/en/contracts/")
    searched, searched_count = counted_get(app, client, "/en/contracts/?q=s")
    assert (rows(few), rows(many), rows(searched)) == (3, 20, 20)
    # the user (with the company's name), the count and a page of contracts
    assert few_count == many_count == searched_count == 3


def test_serials_query_count_does_not_grow_with_serials(app, client, company, customer):
    small = make_contract(customer=company, serials=("A-1",))
    large = make_contract(customer=company, serials=[f"B-{k}" for k in range(50)])
    _r, small_count = counted_get(app, client, f"/en/contracts/{small.id}/serials")
    _r, large_count = counted_get(app, client, f"/en/contracts/{large.id}/serials")
    assert small_count == large_count == 3  # user, contract with partner, devices


def test_anonymous_visitor_is_sent_to_sign_in(client, dbconn):
    response = client.get("/en/contracts/")
    assert response.status_code == 302 and "/en/login" in response.location
    response = client.get("/en/contracts/", headers=HX)
    assert "/en/login" in response.headers["HX-Redirect"]


@pytest.mark.parametrize("role", ["partner", "engineer"])
def test_other_roles_get_not_found(client, company, role):
    contract = make_contract(customer=company)
    user = make_user(role=role, company=company if role == "partner" else None)
    login(client, user)
    assert client.get("/en/contracts/").status_code == 404
    assert client.get(f"/en/contracts/{contract.id}/serials").status_code == 404
