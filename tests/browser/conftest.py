"""Browser journeys: the app served on 127.0.0.1, driven by headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``scripts/setup test``),
driven through Playwright's protocol client; no browser is downloaded.
"""

import contextlib
import os
import shutil
import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

CHROMIUM = os.environ.get(
    "HEZO_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def config_overrides():
    # Plain HTTP on loopback, as with scripts/run.
    return {"SESSION_COOKIE_SECURE": False, "SESSION_COOKIE_NAME": "hezo_session"}


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/setup test")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def closing_app_iter(app):
    """Close every answer's iterator even when the client drops the connection.

    Werkzeug's development server reads what is left of the request in a
    ``finally`` before it closes the answer; on a reset connection that read
    raises, the close is skipped and a static file stays open (a
    ResourceWarning, which this suite turns into an error). The generator
    closes the answer when it is exhausted or dropped.
    """

    def wrapped(environ, start_response):
        answer = app(environ, start_response)
        try:
            yield from answer
        finally:
            if hasattr(answer, "close"):
                answer.close()

    return wrapped


@contextlib.contextmanager
def serving(app, port=0):
    """``app`` served on 127.0.0.1 (``port``, or a free one) while in the block."""
    server = make_server("127.0.0.1", port, closing_app_iter(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def live_server(app):
    with serving(app) as base:
        yield base


def _page(browser, viewport, locale="pl-PL"):
    context = browser.new_context(
        viewport=viewport, locale=locale, is_mobile=viewport is PHONE
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return context, page


@pytest.fixture
def phone(browser):
    context, page = _page(browser, PHONE)
    yield page
    context.close()
    assert page.js_errors == []


@pytest.fixture
def desktop(browser):
    context, page = _page(browser, DESKTOP, locale="en-GB")
    yield page
    context.close()
    assert page.js_errors == []
