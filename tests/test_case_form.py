"""The new-case forms: consent holds only for the partner the form named, and
files attached to a form that comes back with an error are kept."""

import io
import re

import pytest

from hezo.cases import services
from hezo.db import utcnow
from hezo.models import Attachment, AuditEvent, ConsentEvent, SupportCase

from .factories import (
    login,
    make_company,
    make_contract,
    make_user,
    phone_case_form,
)


@pytest.fixture
def config_overrides():
    return {"ATTACHMENT_MAX_BYTES": 100_000}


@pytest.fixture
def two(dbconn):
    """A company with two contracts sold by different partners, and one without."""
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    first = make_company("1860913901", "NetPartner S.A.")
    second = make_company("9542751782", "Sieciowo Sp. z o.o.")
    return {
        "first": make_contract(
            customer=company, partner=first, number="HZ-2026-000001", serials=("A-1",)
        ),
        "second": make_contract(
            customer=company, partner=second, number="HZ-2026-000002", serials=("B-1",)
        ),
        "none": make_contract(
            customer=company, number="HZ-2026-000003", serials=("C-1",)
        ),
        "user": make_user(company=company),
        "partners": (first, second),
        "company": company,
    }


def report(client, contract, serial, **changes):
    data = {
        "contract": contract.number,
        "serial": serial,
        "subject": "Zasilacz nie działa",
        "description": "Dioda miga na czerwono.",
        "severity": "major",
    }
    data.update(changes)
    return client.post("/pl/cases/new", data=data, content_type="multipart/form-data")


def hidden_partner(page: str) -> str:
    return re.search(r'name="consent_partner"[^>]*value="(\d+)"', page).group(1)


def test_the_form_names_the_chosen_contracts_partner_and_carries_it(client, two):
    first, second = two["partners"]
    login(client, two["user"])
    page = client.get(
        f"/pl/cases/new?fragment=serials&contract={two['second'].number}",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "<html" not in page and "B-1" in page and "A-1" not in page
    assert second.name in page and first.name not in page
    assert hidden_partner(page) == str(second.id)


def test_a_grant_for_another_partner_is_refused_and_nothing_stored(client, two):
    first, second = two["partners"]
    login(client, two["user"])
    # The customer saw the first contract's partner, then the second contract
    # was sent (the form did not refresh).
    response = report(
        client, two["second"], "B-1", share="y", consent_partner=str(first.id)
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nic nie zostało udostępnione" in page and second.name in page
    # A company name ending in "S.A." or "Sp. z o.o." never ends a sentence
    # with a doubled full stop.
    assert f"{second.name}." not in page.replace("&#39;", "'")
    assert hidden_partner(page) == str(second.id)
    assert not re.search(r'name="share"[^>]*checked', page)
    assert 'value="Zasilacz nie działa"' in page  # the form is filled again
    assert SupportCase.select().count() == 0 and ConsentEvent.select().count() == 0

    response = report(
        client, two["second"], "B-1", share="y", consent_partner=hidden_partner(page)
    )
    assert response.status_code == 303
    event = ConsentEvent.get()
    assert event.partner_id == second.id and SupportCase.get().is_shared


@pytest.mark.parametrize(
    ("contract", "serial", "named", "message"),
    [
        ("none", "C-1", "first", "ta umowa nie ma partnera"),
        ("first", "A-1", None, "NetPartner S.A."),
    ],
)
def test_a_grant_naming_no_partner_of_the_contract_is_refused(
    client, two, contract, serial, named, message
):
    partners = dict(zip(("first", "second"), two["partners"], strict=True))
    named = {"consent_partner": str(partners[named].id)} if named else {}
    login(client, two["user"])
    response = report(client, two[contract], serial, share="y", **named)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert SupportCase.select().count() == 0 and ConsentEvent.select().count() == 0


def test_the_service_refuses_a_grant_for_another_partner(two):
    first, _second = two["partners"]
    contract = two["second"]
    with pytest.raises(services.CaseError):
        services.open_case(
            actor=two["user"],
            contract=contract,
            device=contract.devices[0],
            subject="x",
            description="y",
            severity="minor",
            contact_phone="",
            share_with=first.id,
            files=[],
            now=utcnow(),
        )
    assert SupportCase.select().count() == 0 and ConsentEvent.select().count() == 0


def test_the_case_pages_grant_holds_only_for_the_partner_it_named(client, two):
    first, second = two["partners"]
    login(client, two["user"])
    report(client, two["second"], "B-1")
    number = SupportCase.get().number
    url = f"/pl/cases/{number}/consent"
    page = client.get(f"/pl/cases/{number}").get_data(as_text=True)
    assert f'name="partner" value="{second.id}"' in page
    for partner in ({"partner": str(first.id)}, {}):
        response = client.post(url, data={"grant": "y", **partner})
        assert response.status_code == 422
        assert second.name in response.get_data(as_text=True)
        assert not SupportCase.get().is_shared and ConsentEvent.select().count() == 0
    response = client.post(url, data={"grant": "y", "partner": str(second.id)})
    assert response.status_code == 303
    assert ConsentEvent.get().partner_id == second.id and SupportCase.get().is_shared
    assert AuditEvent.select().where(AuditEvent.action == "consent_granted").exists()


# -- files kept when the form comes back ----------------------------------------


def kept_tokens(page: str) -> list[str]:
    return re.findall(r'name="kept_file" value="([^"]+)"', page)


def test_files_are_kept_when_the_form_comes_back_with_an_error(client, two, app):
    login(client, two["user"])
    response = report(
        client,
        two["first"],
        "A-1",
        subject="",
        files=[
            (io.BytesIO(b"reboot: watchdog\n"), "switch.log"),
            (io.BytesIO(b"<html>no</html>"), "page.html"),
        ],
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "switch.log" in page and "page.html" in page  # kept, and refused
    (token,) = kept_tokens(page)
    assert SupportCase.select().count() == 0

    response = report(client, two["first"], "A-1", kept_file=token)
    assert response.status_code == 303
    (attachment,) = Attachment.select()
    assert attachment.filename == "switch.log"
    download = client.get(f"{response.location}/files/{attachment.id}")
    assert download.data == b"reboot: watchdog\n"
    download.close()
    # Sent once, the file is no longer staged: the token cannot add it again.
    again = report(client, two["first"], "A-1", kept_file=token)
    assert again.status_code == 422
    assert "switch.log" in again.get_data(as_text=True)
    assert Attachment.select().count() == 1


def test_another_accounts_kept_file_cannot_be_claimed(app, two):
    owner, other = app.test_client(), app.test_client()
    login(owner, two["user"])
    login(other, make_user(company=two["company"]))
    page = report(
        owner, two["first"], "A-1", subject="", files=[(io.BytesIO(b"x\n"), "a.log")]
    ).get_data(as_text=True)
    (token,) = kept_tokens(page)
    for forged in (token, token[:-2] + "xx"):
        response = report(other, two["first"], "A-1", kept_file=forged)
        assert response.status_code == 422
        assert "a.log" not in response.get_data(as_text=True)
    assert SupportCase.select().count() == 0 and Attachment.select().count() == 0


def test_the_phone_form_keeps_files_too(app, two):
    engineer = app.test_client()
    login(engineer, make_user(role="engineer", company=None))
    url = f"/pl/staff/cases/new?nip={two['company'].nip}"
    data = phone_case_form(
        two["first"],
        "A-1",
        contact_name="",  # missing: the form comes back
        subject="Awaria",
        severity="major",
    )
    response = engineer.post(
        url,
        data=data | {"files": [(io.BytesIO(b"log\n"), "call.log")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    (token,) = kept_tokens(response.get_data(as_text=True))
    response = engineer.post(
        url,
        data=data
        | {"contact_name": "Anna Kowalska", "contact_email": "a@example.pl"}
        | {"kept_file": token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert Attachment.get().filename == "call.log"


def test_the_phone_forms_serials_follow_the_chosen_contract(app, two):
    engineer = app.test_client()
    login(engineer, make_user(role="engineer", company=None))
    page = engineer.get(
        f"/pl/staff/cases/new?nip={two['company'].nip}&fragment=serials"
        f"&contract={two['second'].number}",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "<html" not in page and "B-1" in page and "A-1" not in page


# -- every field's error shown, the consent checkbox's too ---------------------------


def error_summary_targets(page: str) -> set[str]:
    summary = re.search(r'data-testid="error-summary">(.*?)</div>', page, re.S)
    assert summary, "no error summary"
    return set(re.findall(r'<a href="#([\w-]+)">', summary.group(1)))


def test_a_refused_consent_is_the_checkboxs_error_in_the_summary(client, two):
    first, _second = two["partners"]
    login(client, two["user"])
    page = report(
        client, two["second"], "B-1", share="y", consent_partner=str(first.id)
    ).get_data(as_text=True)
    assert "share" in error_summary_targets(page)
    checkbox = re.search(r'<input[^>]*id="share"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in checkbox and "is-invalid" in checkbox
    assert 'aria-describedby="share-error-1"' in checkbox
    error = re.search(r'<p class="field-error" id="share-error-1">([^<]+)</p>', page)
    assert error and "Nic nie zostało udostępnione" in error.group(1)
    assert page.count("Nic nie zostało udostępnione") == 2  # summary + field


def test_a_consent_for_a_contract_without_partner_links_from_the_summary(client, two):
    login(client, two["user"])
    page = report(
        client,
        two["none"],
        "C-1",
        share="y",
        consent_partner=str(two["partners"][0].id),
    ).get_data(as_text=True)
    assert "share" in error_summary_targets(page)
    assert re.search(
        r'<p class="field-error" id="share"[^>]*>[^<]*ta umowa nie ma partnera', page
    )


def test_site_fields_the_form_did_not_show_never_block_it(client, two):
    company = two["company"]
    tac = make_contract(
        customer=company,
        number="HZ-2026-000004",
        serials=("T-1",),
        service_code="PW-TAC",
    )
    login(client, two["user"])
    response = report(client, tac, "T-1", site_contact_phone="not a phone")
    assert response.status_code == 303
    assert SupportCase.get().site_contact_phone == ""
    # Where the form asks for them, a bad one is an error shown by its field.
    page = report(client, two["first"], "A-1", site_contact_phone="not a phone")
    assert page.status_code == 422
    assert "site_contact_phone" in error_summary_targets(page.get_data(as_text=True))
