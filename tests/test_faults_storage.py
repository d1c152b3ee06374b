"""Uploads when the storage fails, the order of file and row, missing files.

Tests run as root, where a read-only folder does not deny a write: the folder
is replaced by a file, or the system call is made to fail as a full disk does.
"""

import errno
import io
import os
import time
from pathlib import Path

import pytest

from hezo.attachments import stored_path
from hezo.models import Attachment, Message, OutboxMessage, SupportCase

from .factories import (
    login,
    make_company,
    make_contract,
    make_user,
    phone_case_form,
)
from .test_cases import report as report_case

STORAGE_ERROR = "Nie udało się zapisać pliku. Spróbuj ponownie później."


@pytest.fixture
def customer(client, dbconn):
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw")
    make_contract(customer=company, number="HZ-2025-000123", serials=("1942Y-40125",))
    login(client, make_user(company=company))
    return company


def report(client, **changes):
    data = {
        "subject": "Przełącznik gubi pakiety",
        "description": "Od wczoraj, co kilka minut, port 12.",
        "files": [(io.BytesIO(b"log line\n"), "switch.log")],
    }
    return report_case(client, **(data | changes))


def files_in(folder) -> list[str]:
    return [name for _, _, names in os.walk(folder) for name in names]


def fail_with(code):
    def failing(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return failing


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_new_case_upload_not_written_keeps_text_and_stores_nothing(
    client, customer, monkeypatch, code
):
    monkeypatch.setattr(os, "fsync", fail_with(code))
    response = report(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 507
    assert STORAGE_ERROR in page
    assert "Przełącznik gubi pakiety" in page
    assert "Od wczoraj, co kilka minut, port 12." in page
    assert SupportCase.select().count() == 0 and Message.select().count() == 0
    assert Attachment.select().count() == 0 and OutboxMessage.select().count() == 0
    assert files_in(client.application.config["UPLOAD_FOLDER"]) == []


def test_new_case_file_not_placed_stores_nothing(client, customer, monkeypatch):
    monkeypatch.setattr(os, "replace", fail_with(errno.EROFS))
    response = report(client)
    assert response.status_code == 507
    assert "Przełącznik gubi pakiety" in response.get_data(as_text=True)
    assert SupportCase.select().count() == 0 and Attachment.select().count() == 0
    assert files_in(client.application.config["UPLOAD_FOLDER"]) == []


@pytest.fixture
def case(client, customer):
    assert report(client).status_code == 303
    return SupportCase.get()


@pytest.mark.parametrize("htmx", [False, True])
def test_reply_upload_folder_unusable_keeps_text_and_stores_nothing(
    client, case, tmp_path, htmx
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the upload folder should be")
    client.application.config["UPLOAD_FOLDER"] = str(blocker)
    response = client.post(
        f"/pl/cases/{case.number}/messages",
        data={
            "body": "W załączniku log z dzisiaj.",
            "files": [(io.BytesIO(b"today\n"), "today.log")],
        },
        content_type="multipart/form-data",
        headers={"HX-Request": "true"} if htmx else {},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 507
    assert STORAGE_ERROR in page and "W załączniku log z dzisiaj." in page
    assert ("<html" in page) is not htmx
    assert Message.select().count() == 1  # the case's first message only
    assert Attachment.select().count() == 1


def test_file_is_in_place_before_its_row_is_written(client, customer, monkeypatch):
    """A crash between the two may leave a file no row names, never a row
    without its file."""
    real_replace, rows_when_placed = os.replace, []

    def replace(source, target):
        rows_when_placed.append(Attachment.select().count())
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    assert report(client).status_code == 303
    assert rows_when_placed == [0]
    assert stored_path(Attachment.get().sha256).is_file()


def test_download_of_a_missing_file_answers_410_with_message(client, case):
    attachment = Attachment.get()
    stored_path(attachment.sha256).unlink()
    response = client.get(f"/pl/cases/{case.number}/files/{attachment.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "Brak pliku" in page and "switch.log" in page


def test_check_files_lists_rows_without_files_and_removes_stale_temporaries(
    client, case, runner
):
    folder = Path(client.application.config["UPLOAD_FOLDER"])
    assert runner.invoke(args=["check-files"]).exit_code == 0
    stale, fresh = folder / ".upload-crashed", folder / ".upload-in-progress"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    attachment = Attachment.get()
    stored_path(attachment.sha256).unlink()

    result = runner.invoke(args=["check-files"])
    assert result.exit_code == 1
    assert f"case {case.number}, attachment {attachment.id}" in result.output
    assert "stale temporary file: .upload-crashed" in result.output
    assert stale.exists() and fresh.exists()

    result = runner.invoke(args=["check-files", "--fix"])
    assert "removed temporary file: .upload-crashed" in result.output
    assert not stale.exists() and fresh.exists()


def test_phone_case_upload_not_written_keeps_text_and_stores_nothing(
    client, dbconn, monkeypatch
):
    from .test_staff import make_world

    world = make_world()
    login(client, world["engineer"])
    monkeypatch.setattr(os, "fsync", fail_with(errno.ENOSPC))
    response = client.post(
        "/pl/staff/cases/new?nip=5260181596",
        data=phone_case_form(
            world["contract"],
            "SN-2",
            description="Klient czyta log przez telefon.",
            files=[(io.BytesIO(b"log\n"), "call.log")],
        ),
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 507
    assert STORAGE_ERROR in page and "Klient czyta log przez telefon." in page
    assert SupportCase.select().count() == 0 and Attachment.select().count() == 0
