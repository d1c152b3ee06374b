"""Bad input is answered with a 4xx and a translated message, never a 500
(issue 14: the nine causes a fuzzer found), and every answer carries the
security headers (SECURITY #48).
"""

import io
from urllib.parse import quote

import pytest

from hezo.models import Attachment, SupportCase
from hezo.web import SECURITY_HEADERS

from .factories import login
from .test_access_matrix import config_overrides, world  # noqa: F401

REFUSED = "Żądanie zawiera znak, który nie jest tu dozwolony"


def signed_in(app, world, who):  # noqa: F811
    client = app.test_client()
    login(client, world["users"][who])
    return client


def assert_clean_4xx(response, text=None):
    html = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500, (response.status_code, html[:300])
    for name in SECURITY_HEADERS:
        assert name in response.headers, name
    if text:
        assert text in html


# -- NUL bytes, at the edge, in every kind of field -----------------------------


def test_nul_in_the_login_e_mail(client):
    response = client.post("/pl/login", data={"email": "a\x00@x.pl", "password": "x"})
    assert_clean_4xx(response, REFUSED)


def test_nul_in_a_query_path_and_field_names(app, world):  # noqa: F811
    customer = signed_in(app, world, "customer_a")
    case, _ = world["cases"]["shared"]
    for url in (
        "/pl/cases/?q=a%00b",
        "/pl/cases/?q%00=x",
        f"/pl/cases/{case.number}%00",
        "/pl/%00",
    ):
        assert_clean_4xx(customer.get(url))
    assert_clean_4xx(customer.get("/pl/cases/?q=a%00b"), REFUSED)


@pytest.mark.parametrize(
    "path, data",
    [
        ("/messages", {"body": "ok\x00"}),
        ("/escalate", {"reason": "pilne\x00"}),
        ("/messages", {"body": "ok", "files": (io.BytesIO(b"x\n"), "a\x00.log")}),
    ],
)
def test_nul_in_a_case_form(app, world, path, data):  # noqa: F811
    customer = signed_in(app, world, "customer_a")
    case, _ = world["cases"]["shared"]
    response = customer.post(f"/pl/cases/{case.number}{path}", data=data)
    assert_clean_4xx(response, REFUSED)


# -- page numbers and ids ---------------------------------------------------------


@pytest.mark.parametrize(
    "who, url",
    [
        ("customer_a", "/pl/cases/"),
        ("customer_a", "/pl/contracts/"),
        ("partner_p1", "/pl/partner/"),
        ("engineer", "/pl/staff/"),
    ],
)
@pytest.mark.parametrize("page", ["99999999999999999999", "9223372036854775808", "١٢"])
def test_page_numbers_out_of_range_or_not_ascii(app, world, who, url, page):  # noqa: F811
    client = signed_in(app, world, who)
    assert_clean_4xx(client.get(url, query_string={"page": page}), "numer strony")


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "１"])
def test_other_numbers_in_the_query(app, world, value):  # noqa: F811
    partner = signed_in(app, world, "partner_p1")
    assert_clean_4xx(partner.get("/pl/partner/", query_string={"customer": value}))
    engineer = signed_in(app, world, "engineer")
    assert_clean_4xx(engineer.get("/pl/staff/", query_string={"assignee": value}))


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "-1", "1e3"])
def test_assignee_not_decimal_or_huge(app, world, value):  # noqa: F811
    engineer = signed_in(app, world, "engineer")
    case, _ = world["cases"]["shared"]
    response = engineer.post(
        f"/pl/staff/cases/{case.number}/assign", data={"assignee": value}
    )
    assert_clean_4xx(response)
    assert SupportCase.get_by_id(case.id).assignee_id is None


# -- malformed requests ---------------------------------------------------------


def test_multipart_part_without_a_field_name(client):
    body = (
        b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n"
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.pl\r\n'
        b"--b--\r\n"
    )
    response = client.post(
        "/pl/login", data=body, content_type="multipart/form-data; boundary=b"
    )
    assert_clean_4xx(response, "Nie udało się przetworzyć żądania.")


@pytest.mark.parametrize("name", ["_method", "_external", "_anchor", "_scheme"])
def test_any_underscore_argument_is_ignored_in_the_language_link(client, name):
    response = client.get("/pl/", query_string={name: "x"})
    assert response.status_code == 200
    assert all(h in response.headers for h in SECURITY_HEADERS)
    missing = client.get("/pl/no-such-page", query_string={name: "x"})
    assert_clean_4xx(missing)


def test_error_page_survives_a_failing_language_link(app, client, monkeypatch):
    import hezo.i18n

    def broken(lang):
        raise RuntimeError("URL building failed")

    monkeypatch.setitem(app.jinja_env.globals, "switch_language_url", broken)
    assert hezo.i18n  # the page's own link fails; the error page must not
    response = client.get("/pl/")
    assert response.status_code == 500
    assert all(h in response.headers for h in SECURITY_HEADERS)
    assert "Coś poszło nie tak" in response.get_data(as_text=True)


def test_new_case_with_consent_and_an_unknown_contract(app, world):  # noqa: F811
    customer = signed_in(app, world, "customer_a")
    response = customer.post(
        "/pl/cases/new",
        data={"contract": "HZ-NONE", "share": "y", "consent_partner": "١٢"},
    )
    assert response.status_code == 422


def test_engineer_reply_that_fails_validation_without_javascript(app, world):  # noqa: F811
    engineer = signed_in(app, world, "engineer")
    case, _ = world["cases"]["shared"]
    response = engineer.post(f"/pl/cases/{case.number}/messages", data={"body": ""})
    assert response.status_code == 422
    assert "To pole jest wymagane." in response.get_data(as_text=True)


# -- file names ------------------------------------------------------------------


def multipart_with_file(name: str, content: bytes, **fields) -> bytes:
    """A form with a file whose name is sent as RFC 5987 ``filename*``, as a
    client may (a browser escapes line breaks; werkzeug decodes this form)."""
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        b'--b\r\nContent-Disposition: form-data; name="files"; '
        + f"filename*=UTF-8''{quote(name)}\r\n".encode()
        + b"Content-Type: text/plain\r\n\r\n"
        + content
        + b"\r\n"
    )
    return b"".join(parts) + b"--b--\r\n"


@pytest.mark.parametrize(
    "name, stored",
    [
        ("log\nBcc: x.log", "log Bcc: x.log"),
        ("evil\u202egol.txt", "evilgol.txt"),
        ("a\u2028b\u2029c\x85d\r\te.log", "a b c d e.log"),
        ("\u200e\u2066x\u2069.log", "x.log"),
    ],
)
def test_file_names_are_cleaned_on_upload(app, world, name, stored):  # noqa: F811
    customer = signed_in(app, world, "customer_a")
    case, _ = world["cases"]["shared"]
    response = customer.post(
        f"/pl/cases/{case.number}/messages",
        data=multipart_with_file(name, b"line\n", body="log"),
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 303
    attachment = Attachment.select().order_by(Attachment.id.desc()).get()
    assert attachment.filename == stored
    with customer.get(f"/pl/cases/{case.number}/files/{attachment.id}") as download:
        assert download.status_code == 200


def test_an_existing_bad_file_name_still_downloads(app, world):  # noqa: F811
    customer = signed_in(app, world, "customer_a")
    case, attachment = world["cases"]["shared"]
    Attachment.update(filename="a\nb\u2028c\u202e.log").where(
        Attachment.id == attachment.id
    ).execute()
    with customer.get(f"/pl/cases/{case.number}/files/{attachment.id}") as response:
        assert response.status_code == 200
        disposition = response.headers["Content-Disposition"]
    assert "\n" not in disposition and "a b c.log" in disposition
