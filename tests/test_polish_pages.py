"""Polish pages cost what English ones do (issue 21, item 3) and read the same
as before: the catalogues the app caches follow the language of each request."""

from datetime import UTC, datetime

import pytest
from babel import support

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
