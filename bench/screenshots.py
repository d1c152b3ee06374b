"""A full-page PNG of every page state (``tests/browser/page_states.py``) at
360 px and 1366 px in Polish and English, of the portal with demo data:

    scripts/screenshots [--out screenshots] [--only customer]

Files: ``<out>/<lang>-<width>/<nn>-<person>-<state>.png`` (``screenshots/``
is git-ignored). Each person signs in once through the real forms (password
and the TOTP code of the demo key); Debian's Chromium, as in the tests.
"""

import argparse
import sys
import time
from pathlib import Path

from demo_portal import REPO_ROOT, demo_portal
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.page_states import (
    HEIGHT,
    LANGUAGES,
    PERSONS,
    STATES,
    WIDTHS,
    sign_in,
    visit,
)

LOCALES = {"pl": "pl-PL", "en": "en-GB"}


def context_for(browser, width: int, lang: str = "pl", storage_state=None):
    """A phone (touch) or desktop browser in the language's locale (the
    browser's own controls, such as a file input, speak it)."""
    context = browser.new_context(
        viewport={"width": width, "height": HEIGHT[width]},
        locale=LOCALES[lang],
        is_mobile=width < 600,
        has_touch=width < 600,
        storage_state=storage_state,
    )
    context.set_default_timeout(30_000)
    return context


def photograph(browser, base, world, person, out: Path) -> int:
    """Every state of ``person``; the number of files written."""
    signed_in = None
    if person != "anonymous":
        context = context_for(browser, WIDTHS[0])
        sign_in(context.new_page(), base, world, person)
        signed_in = context.storage_state()
        context.close()
    written = 0
    for width in WIDTHS:
        for lang in LANGUAGES:
            context = context_for(browser, width, lang, signed_in)
            page = context.new_page()
            folder = out / f"{lang}-{width}"
            folder.mkdir(parents=True, exist_ok=True)
            for number, state in enumerate(STATES, 1):
                if state.person != person:
                    continue
                visit(page, base, state, lang, world)
                name = f"{number:02d}-{person}-{state.name}.png"
                page.screenshot(
                    path=folder / name, full_page=True, animations="disabled"
                )
                written += 1
            context.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "screenshots")
    parser.add_argument("--only", choices=PERSONS, help="one person's pages")
    args = parser.parse_args()
    started = time.monotonic()
    written = 0
    with demo_portal() as (base, world), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for person in [args.only] if args.only else PERSONS:
                written += photograph(browser, base, world, person, args.out)
                print(f"{person}: done", flush=True)
        finally:
            browser.close()
    seconds = time.monotonic() - started
    print(f"{written} screenshots in {args.out} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
