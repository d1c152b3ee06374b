"""Small things a user notices: the consent error of the contact form, the
favicon and logo, the knowledge-base link, and one-line errors of ``hezo``."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hezo.config import Defaults
from hezo.models import ContactRequest

from .factories import login, make_company, make_contract, make_user

MESSAGE = {
    "name": "Jan Kowalski",
    "email": "jan@example.pl",
    "message": "Nie mogę się zarejestrować.",
}


# -- the contact form's consent checkbox ----------------------------------------


@pytest.mark.parametrize(("lang", "error"), [("en", "Please confirm."), ("pl", None)])
def test_contact_form_without_consent_shows_the_checkbox_error(
    client, dbconn, lang, error
):
    response = client.post(f"/{lang}/contact", data=MESSAGE)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field = re.search(r'<div class="field[^"]* has-error[^"]*">(.*?)</div>', html, re.S)
    assert field and 'id="agree"' in field.group(1)
    message = re.search(r'<p class="field-error" id="agree-error-1">([^<]+)</p>', html)
    expected = error or "Zaznacz to pole, aby potwierdzić."
    assert message and message.group(1) == expected
    checkbox = re.search(r"<input[^>]*id=\"agree\"[^>]*>", html).group(0)
    assert 'aria-describedby="agree-error-1"' in checkbox
    assert 'aria-invalid="true"' in checkbox
    assert ContactRequest.select().count() == 0


def test_contact_form_with_consent_is_sent(client, dbconn):
    response = client.post("/en/contact", data=MESSAGE | {"agree": "y"})
    assert response.status_code == 200 and ContactRequest.select().count() == 1


# -- favicon and logo -------------------------------------------------------------


def test_every_page_links_our_favicon_and_logo_from_our_static_folder(client):
    html = client.get("/pl/").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    logo = re.search(r'<img class="logo" src="([^"]+)" alt=""', html)
    assert icon and logo
    for url in (icon.group(1), logo.group(1)):
        # ``?v=``: the file's content version (cached a year, a new URL on change).
        assert re.fullmatch(r"/static/img/[\w-]+\.svg\?v=[0-9a-f]{12}", url)
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.mimetype == "image/svg+xml"
            svg = response.get_data(as_text=True)
            # The page's CSP (img-src 'self') covers it.
            assert "img-src 'self'" in response.headers["Content-Security-Policy"]
        # A plain drawing: nothing the CSP or a reviewer would have to allow.
        assert svg.lstrip().startswith("<svg") and "<title>myHEZO</title>" in svg
        assert not re.search(r"<script|<style|style=|href=|<image|on\w+=", svg)


# -- knowledge base ---------------------------------------------------------------


@pytest.fixture
def customer(client, dbconn):
    company = make_company("5260181596", "Firma A")
    make_contract(customer=company, serials=("SN-A",))
    user = make_user(company=company)
    login(client, user)
    return user


def knowledge_base_link(html):
    return re.search(
        r'<a href="([^"]+)" target="_blank" rel="([^"]+)">([^<]+)</a>', html
    )


def test_contracts_page_links_the_extreme_networks_knowledge_base(client, customer):
    link = knowledge_base_link(client.get("/en/contracts/").get_data(as_text=True))
    assert link, "no knowledge-base link beside the contracts"
    url, rel, text = link.groups()
    assert url == Defaults.KNOWLEDGE_BASE_URL
    assert url.startswith("https://extreme-networks.my.site.com/")
    assert "noopener" in rel.split()
    assert text == "Knowledge base on the Extreme Networks portal"


def test_knowledge_base_url_is_configurable(app, client, customer):
    app.config["KNOWLEDGE_BASE_URL"] = "https://kb.example.com/search"
    html = client.get("/pl/contracts/").get_data(as_text=True)
    assert knowledge_base_link(html).group(1) == "https://kb.example.com/search"


# -- hezo commands without a setting ----------------------------------------------

HEZO = Path(sys.executable).with_name("hezo")


def run_hezo(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEZO_")}
    return subprocess.run(
        [str(HEZO), *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "setting"),
    [
        (["outbox-worker", "--once"], {}, "HEZO_SECRET_KEY"),
        (["run-reminders"], {"HEZO_SECRET_KEY": "k"}, "HEZO_TOTP_ENCRYPTION_KEY"),
        (["init-db"], {"HEZO_DEBUG": "true", "HEZO_PDF_FONT_PATH": "/no/font.ttf"},
         "HEZO_PDF_FONT_PATH"),
        (["routes"], {"HEZO_DEBUG": "true", "HEZO_HELPLINE_PHONE": "12 25 25 600"},
         "HEZO_HELPLINE_PHONE"),
    ],
)  # fmt: skip
def test_hezo_command_without_a_setting_prints_one_line(tmp_path, args, env, setting):
    result = run_hezo(*args, HEZO_DATABASE_URL=f"sqlite:///{tmp_path}/x.db", **env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert setting in lines[0]


def test_hezo_help_without_a_setting_says_why_in_one_line(tmp_path):
    result = run_hezo("--help", HEZO_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 0 and "Usage: hezo" in result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "HEZO_SECRET_KEY" in lines[0]


# -- every form's error summary ---------------------------------------------------


def test_an_invalid_form_lists_every_error_at_the_top_linking_to_its_field(
    client, dbconn
):
    response = client.post("/en/contact", data={"email": "not-an-address"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    summary = re.search(
        r'<div class="alert alert-danger error-summary" role="alert" tabindex="-1"'
        r" autofocus[^>]*>(.*?)</div>",
        html,
        re.S,
    )
    assert summary, "no error summary"
    links = re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', summary.group(1))
    targets = {target for target, _ in links}
    # Every field with an error, the consent checkbox too, and each link
    # leads to a field of the page.
    assert {"name", "email", "message", "agree"} <= targets
    for target in targets:
        assert re.search(rf'<(input|textarea|select)[^>]*id="{target}"', html), target
    errors = re.findall(r'<p class="field-error" id="([\w-]+)-error-\d+">', html)
    assert set(errors) == targets
    assert summary.start() < html.index('id="name"')


def test_the_app_takes_plain_views_as_they_are_and_async_ones_flasks_way(app):
    """``HezoFlask.ensure_sync`` skips Flask's per-request coroutine check for
    plain functions only; a coroutine function still goes Flask's way
    (wrapped, or refused without Flask's async extra)."""

    def plain():
        return "ok"

    async def coroutine():
        return "ok"

    assert app.ensure_sync(plain) is plain
    try:
        wrapped = app.ensure_sync(coroutine)
    except RuntimeError as error:  # Flask without asgiref says so
        assert "async" in str(error)
    else:
        assert wrapped is not coroutine and wrapped() == "ok"
