import re

import pytest

PAGES = ["/pl/", "/en/", "/pl/no-such-page"]


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_unexpected_error_gives_a_generic_500_page(app, client):
    from hezo.security import public

    @app.get("/boom")
    @public
    def boom():
        raise RuntimeError("SELECT secret FROM internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "internals" not in body and "Traceback" not in body
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("path", PAGES)
def test_no_inline_script_or_style(client, path):
    html = client.get(path).get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert " style=" not in html and "<style" not in html
    assert re.findall(r"\son[a-z]+=", html) == []


def test_layout_has_landmarks_skip_link_and_footer_contacts(app, client):
    app.config["HELPLINE_PHONE"] = "+48 600 700 800"
    html = client.get("/en/").get_data(as_text=True)
    assert 'href="#main"' in html and '<main id="main"' in html
    assert "<header" in html and "<footer" in html and "<nav" in html
    assert 'href="tel:+48600700800"' in html
    assert app.config["HELP_EMAIL"] in html


def test_unknown_host_is_refused(client):
    assert client.get("/pl/", headers={"Host": "evil.test"}).status_code == 400


def test_htmx_is_served_from_our_static_folder(client):
    html = client.get("/pl/").get_data(as_text=True)
    # ``?v=``: the file's content version (cached a year, a new URL on change).
    assert re.search(r'<script src="/static/vendor/htmx\.min\.js\?v=\w+" defer>', html)
    assert "unpkg" not in html and "cdn" not in html
    with client.get("/static/vendor/htmx.min.js") as response:
        assert response.status_code == 200
    meta = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', html).group(1)
    assert '"allowEval": false' in meta and '"selfRequestsOnly": true' in meta


@pytest.fixture
def proxied_app(tmp_path):
    from hezo import create_app

    from .conftest import TEST_CONFIG

    return create_app(
        TEST_CONFIG
        | {"PROXY_FIX_HOPS": 1, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    )


def test_behind_one_proxy_the_client_address_is_the_last_hop(proxied_app):
    from flask import request

    from hezo.security import public

    @proxied_app.get("/ip")
    @public
    def ip():
        return request.remote_addr

    client = proxied_app.test_client()
    response = client.get("/ip", headers={"X-Forwarded-For": "6.6.6.6, 10.1.2.3"})
    assert response.get_data(as_text=True) == "10.1.2.3"
