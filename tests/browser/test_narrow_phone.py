"""A 320 px phone: long unbroken words never widen a page, and the logo and
favicon load under the strict CSP."""

import pytest

from hezo.cases.services import open_case
from hezo.db import utcnow
from hezo.models import Device

from ..factories import make_company, make_contract, make_user
from .helpers import assert_no_horizontal_scroll, sign_in

NARROW = {"width": 320, "height": 640}
URL = "https://extreme-networks.my.site.com/ExtrArticleDetail?an=" + "0" * 142
assert len(URL) == 200
SERIAL = "SN" + "7" * 62  # as long as a serial may be
EMAIL = "zbigniew.brzeczyszczykiewicz.dzial.sieci@przedsiebiorstwo-lacznosci.example.pl"
CSP_PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


@pytest.fixture
def world(dbconn):
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Firma " + "Ż" * 80)
    contract = make_contract(customer=company, partner=partner, serials=(SERIAL,))
    customer = make_user(company=company, email=EMAIL, language="en")
    case = open_case(
        actor=customer,
        contract=contract,
        device=Device.get(Device.contract == contract),
        subject=URL,
        description=URL + "\n" + EMAIL,
        severity="major",
        contact_phone="",
        share_with=None,
        files=[],
        now=utcnow(),
    )
    return {"customer": customer, "case": case}


@pytest.fixture
def narrow(browser):
    context = browser.new_context(viewport=NARROW, locale="en-GB", is_mobile=True)
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_PROBE)
    page = context.new_page()
    yield page
    context.close()


def test_long_words_never_widen_a_320px_page(narrow, live_server, world):
    page, base = narrow, live_server
    for path in ("/en/", "/en/contact", "/en/register"):
        page.goto(base + path)
        assert_no_horizontal_scroll(page)
    sign_in(page, base, world["customer"], landing="**/en/contracts/")
    number = world["case"].number
    for path in ("/en/contracts/", "/en/cases/", f"/en/cases/{number}", "/en/account"):
        page.goto(base + path)
        assert_no_horizontal_scroll(page)
    page.goto(base + f"/en/cases/{number}")
    assert page.locator("h1").inner_text() == URL
    assert page.locator("#thread").get_by_text(URL).count() == 1
    page.goto(base + "/en/contracts/")
    page.locator("details.serials summary").click()
    page.get_by_text(SERIAL).first.wait_for()
    assert_no_horizontal_scroll(page)


def test_logo_and_favicon_load_under_the_csp(narrow, live_server):
    page = narrow
    icons = []
    page.on(
        "response",
        lambda r: (
            icons.append((r.url, r.status))
            if r.url.split("?")[0].endswith(".svg")  # static URLs end in ?v=<version>
            else None
        ),
    )
    page.goto(live_server + "/pl/")
    page.wait_for_function("document.querySelector('img.logo').complete")
    assert page.evaluate("document.querySelector('img.logo').naturalWidth") > 0
    href = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert href.split("?")[0].endswith("/static/img/favicon.svg")
    assert page.request.get(href).status == 200
    assert all(status == 200 for _url, status in icons) and icons
    assert page.evaluate("window.__csp") == []


def test_queue_filter_checkboxes_keep_their_labels_on_one_line(
    narrow, live_server, dbconn
):
    # The filters' "inputs grow" rule once stretched the checkboxes, which
    # squeezed "escalated only" into a column broken inside its words.
    engineer = make_user(role="engineer", language="en")
    sign_in(narrow, live_server, engineer, landing="**/en/staff/**")
    narrow.goto(live_server + "/en/staff/")
    narrow.get_by_role("button", name="Filters").click()  # folded on a phone
    for name in ("escalated", "replied"):
        box = narrow.locator(f".filters input[name={name}]").bounding_box()
        label = narrow.locator(f".filters .form-check:has(input[name={name}])")
        assert box["width"] < 32
        assert label.bounding_box()["height"] < 2 * box["height"] + 16
