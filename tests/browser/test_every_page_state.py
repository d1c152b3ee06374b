"""axe-core with the WCAG 2.2 A/AA rules on every page state of
``page_states.STATES`` (what ``scripts/screenshots`` photographs), in both
languages at 360 px and 1366 px, on the demo data: 0 violations.

One browser, one signed-in context per person (a test each, so pytest-xdist
spreads them); axe is injected as in ``test_accessibility.py``."""

import pytest

from .demo_world import seed_demo_world
from .page_states import HEIGHT, LANGUAGES, PERSONS, WIDTHS, sign_in, states_of, visit
from .test_accessibility import AXE, violations


@pytest.fixture
def world(dbconn):
    return seed_demo_world()


@pytest.mark.parametrize("person", PERSONS)
def test_every_page_state_has_no_wcag_violation(browser, live_server, world, person):
    if not AXE.is_file():
        pytest.fail("axe-core missing: run scripts/setup test")
    context = browser.new_context(bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    found = []
    try:
        if person != "anonymous":
            sign_in(page, live_server, world, person)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT[width]})
            for lang in LANGUAGES:
                for state in states_of(person):
                    visit(page, live_server, state, lang, world)
                    found += [
                        f"{person}/{state.name} {lang} {width}px {v}"
                        for v in violations(page)
                    ]
    finally:
        context.close()
    assert found == []
