"""No rendered page carries an attribute htmx ignores.

WTForms keeps a keyword's underscore (``hx_get``), which htmx does not read:
the page looks right and silently does nothing. Every GET route of the URL map
is rendered, as a whole page and as an htmx fragment, for each kind of visitor,
with URL values of real rows (and the query strings that open the case forms).
"""

import re

import pytest

from .factories import login
from .test_access_matrix import urls_for
from .test_access_matrix import world as world  # noqa: F401 - the fixture

UNDERSCORED_HX = re.compile(r"\shx_[a-z]")
HTMX = {"HX-Request": "true"}


def query_strings(endpoint: str, world) -> list[str]:
    """Extra query strings that make a route show more than its bare page."""
    contract = world["contract"]
    company = contract.customer
    if endpoint == "cases.new":
        return [
            f"?contract={contract.number}&serial=SN-A",
            f"?fragment=serials&contract={contract.number}",
        ]
    if endpoint == "staff.new_case":
        return [
            f"?nip={company.nip}",
            f"?nip={company.nip}&fragment=serials&contract={contract.number}",
        ]
    if endpoint in ("cases.index", "partners.home"):
        return ["?status=open&q=SN-A", "?page=2"]
    if endpoint == "contracts.index":
        return ["?q=SN-A"]
    return []


@pytest.mark.parametrize("actor", ["anon", "customer_a", "partner_p1", "engineer"])
def test_no_page_has_an_underscored_hx_attribute(app, world, actor):
    client = app.test_client()
    if actor != "anon":
        login(client, world["users"][actor])
    rules = [
        r
        for r in app.url_map.iter_rules()
        if "GET" in r.methods and r.endpoint not in ("static", "accounts.logout")
    ]
    rendered, offending = 0, []
    for rule in rules:
        for _variant, url in urls_for(app, rule, world):
            for query in ["", *query_strings(rule.endpoint, world)]:
                for headers in ({}, HTMX):
                    with client.get(url + query, headers=headers) as response:
                        if response.mimetype != "text/html":
                            continue  # PDFs and downloads
                        body = response.get_data(as_text=True)
                    rendered += response.status_code == 200
                    if UNDERSCORED_HX.search(body):
                        offending.append((url + query, bool(headers)))
    assert offending == []
    # The walk reached real pages, the case forms among them.
    assert rendered > 10
    if actor in ("customer_a", "engineer"):
        form = "/pl/cases/new" if actor == "customer_a" else "/pl/staff/cases/new"
        nip = world["contract"].customer.nip
        page = client.get(form + (f"?nip={nip}" if actor == "engineer" else ""))
        assert 'hx-get="' in page.get_data(as_text=True)
