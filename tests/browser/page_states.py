"""Every page state of the portal, in one list: what ``scripts/screenshots``
photographs and what the axe test (``test_every_page_state.py``) checks.

A state is a person (anonymous, customer, partner, engineer, admin), a path with
``{lang}`` and the demo world's identifiers (``{case}``, ``{contract}``...) and
an optional action after the page loads (submit an empty form for its errors,
go one step further in a wizard). The states of one person run in this order in
one signed-in browser context, so the registration steps follow each other.

Nothing here imports the portal: the world (``demo_world.py``) is a mapping
the caller fills from the demo data, and forms are found by their field names,
never by their (translated) labels.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyotp

PERSONS = ("anonymous", "customer", "partner", "engineer", "admin")
LANGUAGES = ("pl", "en")
WIDTHS = (360, 1366)
HEIGHT = {360: 740, 1366: 900}


def submit(page):
    """Send the page's main form as it is (a navigation, or htmx's boost) and
    wait until the answer is shown; the answer at the end of any redirects."""
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("main form[method=post] button[type=submit]").first.click()
    request = posted.value.request
    while request.redirected_to:
        request = request.redirected_to
    answer = request.response()
    page.wait_for_load_state("load")
    page.wait_for_function(SETTLED)
    return answer


#: htmx marks what it is fetching, swapping and settling.
SETTLED = (
    "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
)


def fill(page, values: Mapping[str, str]) -> None:
    for name, value in values.items():
        page.locator(f"main form [name={name}]").first.fill(value)


@dataclass(frozen=True)
class PageState:
    person: str
    name: str
    path: str
    act: Callable | None = None  # act(page, world) after the page has loaded
    status: int = 200

    def url(self, base: str, lang: str, world: Mapping) -> str:
        return base + self.path.format_map(World(world, lang))


class World(dict):
    """The caller's identifiers plus ``lang``; callables are called when read
    (a confirmation link exists only after the step that sends it)."""

    def __init__(self, values: Mapping, lang: str):
        super().__init__(values, lang=lang)

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return value() if callable(value) else value


def _register_proof(page, world):
    fill(
        page,
        {
            "nip": world["nip"],
            "contract": world["contract_number"],
            "serial": world["serial"],
        },
    )
    return submit(page)


def _register_contact(page, world):
    email = world["new_email"]
    fill(
        page,
        {
            "first_name": "Zofia",
            "last_name": "Wójcik",
            "email": email,
            "phone": "+48 600 300 400",
        },
    )
    world["registered"].append(email)
    return submit(page)


def _set_password(page, world):
    fill(page, {"password": world["password"], "confirm": world["password"]})
    return submit(page)


def _password_step(page, world, person="customer"):
    fill(page, {"email": world["emails"][person], "password": world["password"]})
    return submit(page)


def _forgot(page, world):
    fill(page, {"email": world["emails"]["customer"]})
    return submit(page)


def _errors(page, world):
    return submit(page)


def _bad_settings(page, world):
    fill(page, {"helpline_phone": "12 25", "help_email": "pomoc@"})
    return submit(page)


STATES = (
    # -- anonymous -----------------------------------------------------------
    PageState("anonymous", "landing", "/{lang}/"),
    PageState("anonymous", "sign-in", "/{lang}/login"),
    PageState("anonymous", "sign-in-errors", "/{lang}/login", _errors, 422),
    PageState("anonymous", "sign-in-code", "/{lang}/login", _password_step),
    PageState("anonymous", "forgot-password", "/{lang}/password/forgot"),
    PageState("anonymous", "forgot-password-sent", "/{lang}/password/forgot", _forgot),
    PageState("anonymous", "contact", "/{lang}/contact"),
    PageState("anonymous", "contact-errors", "/{lang}/contact", _errors, 422),
    PageState("anonymous", "not-found", "/{lang}/no-such-page", status=404),
    PageState("anonymous", "privacy", "/{lang}/privacy/"),
    PageState("anonymous", "register", "/{lang}/register"),
    PageState("anonymous", "register-errors", "/{lang}/register", _errors, 422),
    PageState("anonymous", "register-contact", "/{lang}/register", _register_proof),
    PageState(
        "anonymous", "register-sent", "/{lang}/register/contact", _register_contact
    ),
    PageState("anonymous", "register-confirm", "{confirm}"),
    PageState("anonymous", "setup-password", "{confirm}", _errors),
    PageState(
        "anonymous", "setup-authenticator", "/{lang}/setup/password", _set_password
    ),
    # -- customer ------------------------------------------------------------
    PageState("customer", "contracts", "/{lang}/contracts/"),
    PageState("customer", "serials", "/{lang}/contracts/{contract}/serials"),
    PageState("customer", "cases", "/{lang}/cases/"),
    PageState(
        "customer", "cases-filtered", "/{lang}/cases/?status=waiting_for_customer"
    ),
    PageState("customer", "new-case", "/{lang}/cases/new"),
    PageState("customer", "new-case-errors", "/{lang}/cases/new", _errors, 422),
    PageState("customer", "new-case-from-email", "/{lang}/cases/new?draft={draft}"),
    PageState("customer", "case", "/{lang}/cases/{case}"),
    PageState("customer", "sharing", "/{lang}/partner/sharing"),
    PageState("customer", "account", "/{lang}/account"),
    PageState("customer", "change-password", "/{lang}/account/password"),
    PageState("customer", "colleagues", "/{lang}/account/colleagues"),
    PageState("customer", "my-data", "/{lang}/privacy/mine"),
    PageState("customer", "reports", "/{lang}/reports/"),
    PageState("customer", "not-found", "/{lang}/cases/ZG-1999-99999", status=404),
    # -- partner -------------------------------------------------------------
    PageState("partner", "workspace-cases", "/{lang}/partner/"),
    PageState("partner", "workspace-contracts", "/{lang}/partner/contracts"),
    PageState("partner", "renewals", "/{lang}/partner/renewals"),
    PageState("partner", "shared-cases", "/{lang}/cases/"),
    PageState("partner", "shared-case", "/{lang}/cases/{case}"),
    PageState("partner", "new-case", "/{lang}/partner/cases/new"),
    PageState("partner", "new-case-errors", "/{lang}/partner/cases/new", _errors, 422),
    PageState("partner", "account", "/{lang}/account"),
    PageState("partner", "colleagues", "/{lang}/account/colleagues"),
    # -- engineer ------------------------------------------------------------
    PageState("engineer", "queue", "/{lang}/staff/"),
    PageState("engineer", "case", "/{lang}/cases/{case}"),
    PageState("engineer", "new-case", "/{lang}/staff/cases/new"),
    PageState("engineer", "new-case-company", "/{lang}/staff/cases/new?nip={nip}"),
    PageState(
        "engineer", "new-case-errors", "/{lang}/staff/cases/new?nip={nip}", _errors, 422
    ),
    PageState("engineer", "mail-triage", "/{lang}/staff/mail"),
    PageState("engineer", "accounts", "/{lang}/staff/accounts"),
    PageState("engineer", "satisfaction", "/{lang}/staff/satisfaction"),
    PageState("engineer", "reports", "/{lang}/reports/"),
    PageState("engineer", "reports-empty-month", "/{lang}/reports/?month=2001-01"),
    PageState("engineer", "privacy-requests", "/{lang}/privacy/requests"),
    PageState("engineer", "account", "/{lang}/staff/accounts/{customer_id}"),
    # The administrators' console: each section adds its pages here.
    PageState("admin", "console", "/{lang}/admin/"),
    PageState("admin", "audit-log", "/{lang}/admin/audit"),
    PageState(
        "admin", "audit-log-errors", "/{lang}/admin/audit?from=2026-13-45", status=400
    ),
    PageState("admin", "imports", "/{lang}/admin/imports"),
    PageState("admin", "imports-errors", "/{lang}/admin/imports", _errors, 422),
    PageState("admin", "import-dry-run", "/{lang}/admin/imports/{import_done}"),
    PageState("admin", "import-queued", "/{lang}/admin/imports/{import_queued}"),
    # The service catalogue (hezo/admin/catalogue.py); the demo has no closed
    # day, so the page's first form is the one adding a closed day.
    PageState("admin", "catalogue", "/{lang}/admin/catalogue"),
    PageState("admin", "catalogue-errors", "/{lang}/admin/catalogue", _errors, 422),
    PageState("admin", "new-variant", "/{lang}/admin/catalogue/variants/new"),
    PageState(
        "admin",
        "new-variant-errors",
        "/{lang}/admin/catalogue/variants/new",
        _errors,
        422,
    ),
    PageState("admin", "variant", "/{lang}/admin/catalogue/variants/{variant}"),
    PageState(
        "admin", "variant-delete", "/{lang}/admin/catalogue/variants/{variant}/delete"
    ),
    PageState("admin", "people", "/{lang}/admin/people"),
    PageState("admin", "people-found", "/{lang}/admin/people?role=admin&state=active"),
    PageState("admin", "invite", "/{lang}/admin/people/invite"),
    PageState("admin", "invite-errors", "/{lang}/admin/people/invite", _errors, 422),
    PageState("admin", "person", "/{lang}/admin/people/{customer_id}"),
    PageState("admin", "settings", "/{lang}/admin/settings"),
    PageState("admin", "settings-errors", "/{lang}/admin/settings", _bad_settings, 422),
)


def states_of(person: str) -> list[PageState]:
    return [s for s in STATES if s.person == person]


def sign_in(page, base: str, world: Mapping, person: str) -> None:
    """Through the real forms: e-mail and password, then the current TOTP code
    computed from the person's demo key."""
    page.goto(f"{base}/en/login")
    _password_step(page, world, person)
    page.locator("main form [name=code]").fill(pyotp.TOTP(world["keys"][person]).now())
    submit(page)
    if "/login" in page.url:
        raise RuntimeError(f"{person} could not sign in: {page.url}")


def visit(page, base: str, state: PageState, lang: str, world: Mapping) -> None:
    """Load the state's page and do its action; the status must be the state's."""
    answer = page.goto(state.url(base, lang, world))
    if state.act is not None:
        answer = state.act(page, World(world, lang))
    page.wait_for_load_state("load")
    got = answer.status if answer else None
    if got and 300 <= got < 400:  # htmx followed it inside its request
        got = 200
    if got != state.status:
        raise AssertionError(f"{state.person}/{state.name} {lang}: HTTP {got}")
