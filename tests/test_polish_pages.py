"""Polish pages cost what English ones do (issue 21, item 3) and read the same
as before: the catalogues the app caches follow the language of each request."""

from datetime import UTC, datetime, timedelta

import pytest
from babel import Locale, support
from babel import dates as babel_dates
from babel.plural import PluralRule

from hezo.i18n import format_relative
from hezo.models import SupportCase

from .factories import login
from .test_staff import make_world, new_case

TOO_LONG = "x" * 20001  # the reply form's limit is 20,000 characters
LIMIT = {
    "pl": "Wartość w polu nie może mieć więcej niż 20000 znaków.",
    "en": "Field cannot be longer than 20000 characters.",
}


@pytest.fixture
def world(dbconn):
    return make_world()


def reply(client, case, lang):
    return client.post(
        f"/{lang}/cases/{case.number}/messages", data={"body": TOO_LONG}
    ).get_data(as_text=True)


def test_form_messages_follow_the_language_of_each_request(client, world, monkeypatch):
    """WTForms' own messages (its length check) in the page's language,
    request after request, with its catalogues read from disk at most once
    per language, not on every request that builds a form."""
    loads = []
    load = support.Translations.load.__func__

    def counting(cls, dirname=None, locales=None, domain=None):
        if domain == "wtforms":
            loads.append([str(locale) for locale in locales])
        return load(cls, dirname, locales, domain)

    monkeypatch.setattr(support.Translations, "load", classmethod(counting))
    case = new_case(world)
    login(client, world["customer"])
    for lang in ("pl", "en", "pl", "en", "pl", "pl", "en"):
        html = reply(client, case, lang)
        other = "en" if lang == "pl" else "pl"
        assert LIMIT[lang] in html and LIMIT[other] not in html
    assert len(loads) <= 2  # the cache may be warm from an earlier test


def test_case_page_in_polish_then_english_then_polish(client, world):
    """The words and formats of a Polish page (status and severity words, form
    labels, dates, deadlines) stay Polish after an English request, and the
    English page stays English after a Polish one."""
    opened = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    case = new_case(world, "major", when=opened)
    SupportCase.update(status="new").where(SupportCase.id == case.id).execute()
    login(client, world["customer"])
    expected = {
        "pl": ['<html lang="pl"', ">nowe<", ">wysoka<", "Twoja wiadomość", "1.12.2026"],
        "en": ['<html lang="en"', ">new<", ">major<", "Your message", "1 Dec 2026"],
    }
    for lang in ("pl", "en", "pl", "en"):
        html = client.get(f"/{lang}/cases/{case.number}").get_data(as_text=True)
        for text in expected[lang]:
            assert text in html, (lang, text)
        other = expected["en" if lang == "pl" else "pl"]
        for text in other[1:]:
            assert text not in html, (lang, text)


def test_polish_relative_times_take_each_plural_form_request_after_request(
    app, monkeypatch
):
    """ "za 2 lata" but "za 5 lat": the plural rule's answers, remembered per
    number, are Babel's own, in either language's requests, and the rule is
    evaluated once per number, not once per date shown."""
    evaluated = []
    rule = PluralRule.__call__

    def counting(self, n):
        evaluated.append(n)
        return rule(self, n)

    monkeypatch.setattr(PluralRule, "__call__", counting)
    now = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    year = timedelta(days=365)
    expected = {
        "pl": {
            2 * year: "za 2 lata",
            5 * year: "za 5 lat",
            -22 * year: "22 lata temu",
            -25 * year: "25 lat temu",
            timedelta(hours=3): "za 3 godz.",
        },
        "en": {2 * year: "in 2 yr", -25 * year: "25 yr ago"},
    }
    for lang in ("pl", "en", "pl", "en"):
        with app.test_request_context(f"/{lang}/"):
            app.preprocess_request()
            for delta, text in expected[lang].items():
                assert format_relative(now + delta, now) == text
                plain = babel_dates.format_timedelta(
                    delta,
                    granularity="minute",
                    threshold=2,
                    add_direction=True,
                    format="short",
                    locale=Locale.parse("pl" if lang == "pl" else "en_GB"),
                )
                assert plain == text
    # Each request's dates asked the remembered rule; Babel's own rule ran
    # only for the plain calls above and each number's first answer.
    plain_calls = 2 * (len(expected["pl"]) + len(expected["en"]))
    assert len(evaluated) <= plain_calls + len(expected["pl"]) + len(expected["en"])
