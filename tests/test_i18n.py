from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from hezo.cli.translate import extract_messages
from hezo.i18n import (
    format_by_time,
    format_deadline,
    format_local_date,
    format_local_datetime,
    format_relative,
)

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "hezo/translations/pl/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


def read_catalog(path=PO):
    with open(path, "rb") as fh:
        return read_po(fh, locale="pl")


@pytest.mark.parametrize(
    ("host", "accept", "target"),
    [
        ("myhezo.pl", "en", "/pl/"),
        ("myhezo.com", "pl", "/en/"),
        ("localhost", "en-GB,en;q=0.9", "/en/"),
        ("localhost", "de-DE", "/pl/"),
        ("localhost", "", "/pl/"),
    ],
)
def test_root_redirects_by_host_then_accept_language(client, host, accept, target):
    response = client.get("/", headers={"Host": host, "Accept-Language": accept})
    assert response.status_code == 302
    assert response.location == target


def test_pages_are_served_in_both_languages(client):
    pl = client.get("/pl/").get_data(as_text=True)
    en = client.get("/en/").get_data(as_text=True)
    assert '<html lang="pl">' in pl and "Portal serwisowy" in pl
    assert '<html lang="en">' in en and "Service portal" in en


def test_language_switch_keeps_the_page(client):
    html = client.get("/pl/").get_data(as_text=True)
    assert 'href="/en/" hreflang="en"' in html


def test_unknown_language_is_not_found(client):
    assert client.get("/de/").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [("/en/no-such-page", 404), ("/en/contracts/%00/serials", 400)],
)
def test_error_pages_under_a_language_prefix_speak_that_language(client, path, status):
    # No route matched, so no view set the language; the path still names it
    # (the visitor's browser prefers Polish).
    response = client.get(path, headers={"Accept-Language": "pl"})
    assert response.status_code == status
    assert '<html lang="en"' in response.get_data(as_text=True)


def test_datetimes_are_shown_in_warsaw_time_in_one_format_per_language(app):
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    with app.test_request_context("/pl/"):
        app.preprocess_request()
        assert format_local_datetime(summer) == "1.07.2026, 12:00"
        assert format_local_datetime(winter) == "1.12.2026, 14:30"
        assert format_local_date(winter) == "1.12.2026"
        assert format_deadline(winter) == "1.12.2026, 14:30 czasu warszawskiego"
    with app.test_request_context("/en/"):
        app.preprocess_request()
        assert format_local_datetime(summer) == "1 Jul 2026, 12:00"
        assert format_local_datetime(winter) == "1 Dec 2026, 14:30"
        assert format_local_date(winter) == "1 Dec 2026"
        assert format_deadline(winter) == "1 Dec 2026, 14:30 Warsaw time"


@pytest.mark.parametrize(
    "lang, expected",
    [
        (
            "en",
            ["in 40 min", "in 95 min", "in 3 hr", "2 hr ago", "1 min ago", "in 2 days"],
        ),
        (
            "pl",
            [
                "za 40 min",
                "za 95 min",
                "za 3 godz.",
                "2 godz. temu",
                "1 min temu",
                "za 2 dni",
            ],
        ),
    ],
)
def test_relative_times_say_how_far_a_moment_is(app, lang, expected):
    now = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    offsets = [
        timedelta(minutes=40),
        timedelta(minutes=95),
        timedelta(hours=3),
        -timedelta(hours=2, minutes=5),
        -timedelta(seconds=5),
        timedelta(days=2),
    ]
    with app.test_request_context(f"/{lang}/"):
        app.preprocess_request()
        assert [format_relative(now + o, now=now) for o in offsets] == expected


def test_deadlines_today_give_the_hour_and_later_ones_the_date(app):
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 11:00 in Warsaw
    with app.test_request_context("/en/"):
        app.preprocess_request()
        assert (
            format_by_time(now + timedelta(hours=2), now=now) == "by 13:00 Warsaw time"
        )
        # 23:30 UTC is already 2 December in Warsaw.
        late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
        assert format_by_time(late, now=now) == "by 2 Dec 2026, 00:30 Warsaw time"
    with app.test_request_context("/pl/"):
        app.preprocess_request()
        assert format_by_time(now + timedelta(hours=2), now=now) == (
            "do 13:00 czasu warszawskiego"
        )


def test_template_translations_escape_values_and_keep_percent_signs(app):
    from flask import render_template_string
    from markupsafe import Markup

    source = '{{ _("%(partner)s may read this case.", partner="<b>X</b>") }}'
    with app.test_request_context("/pl/"):
        app.preprocess_request()
        assert render_template_string(source) == (
            "Partner &lt;b&gt;X&lt;/b&gt; ma wgląd w to zgłoszenie."
        )
        as_text = "{% autoescape false %}" + source + "{% endautoescape %}"
        assert render_template_string(as_text) == (
            "Partner <b>X</b> ma wgląd w to zgłoszenie."
        )
        assert render_template_string('{{ _("100%%") }}') == "100%"
        safe = '{{ _("%(partner)s may read this case.", partner=name) }}'
        assert render_template_string(safe, name=Markup("<b>X</b>")) == (
            "Partner <b>X</b> ma wgląd w to zgłoszenie."
        )


def test_polish_catalogue_has_three_plural_forms():
    assert read_catalog().plural_forms.startswith("nplurals=3;")


def test_polish_catalogue_is_complete_and_not_fuzzy():
    catalog = read_catalog()
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    empty = [
        m.id
        for m in catalog
        if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    assert fuzzy == [] and empty == []


def test_every_source_message_is_in_the_polish_catalogue(tmp_path):
    pot = tmp_path / "messages.pot"
    extract_messages(pot)
    extracted = {m.id for m in read_catalog(pot) if m.id}
    translated = {m.id for m in read_catalog() if m.id}
    assert sorted(map(str, extracted - translated)) == []


def test_compiled_catalogue_matches_the_po_file():
    def key(value):
        return value if isinstance(value, str) else tuple(value)

    with open(MO, "rb") as fh:
        compiled = {key(m.id): key(m.string) for m in read_mo(fh) if m.id}
    source = {key(m.id): key(m.string) for m in read_catalog() if m.id and not m.fuzzy}
    assert compiled == source, "run: hezo translate compile"
