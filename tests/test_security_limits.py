"""Limits and logs around bad or abusive input (issue 14, "Also"): gzip bombs
stopped while streaming, messages and uploads per account, denied object
access logged (SECURITY #55), line breaks refused in one-line fields, and
gunicorn trusting no forwarded header on its own.
"""

import gzip
import io
import logging
import zlib

import pytest
from werkzeug.datastructures import FileStorage

from hezo import attachments
from hezo.attachments import UploadError, stage_upload

from .factories import login
from .test_access_matrix import world  # noqa: F401

RATE_LIMITED = pytest.mark.parametrize(
    "config_overrides",
    [{"RATELIMIT_ENABLED": True, "ATTACHMENT_MAX_BYTES": 100_000}],
    ids=["rate-limited"],
)


def zeros_gzip(megabytes: int) -> bytes:
    """``megabytes`` MB of zeros, gzip-compressed (about 1 KB a MB)."""
    packer, chunk = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()


def stage(app, data: bytes, name="logs.log.gz"):
    with app.test_request_context():
        return stage_upload(FileStorage(io.BytesIO(data), name))


def test_a_gzip_bomb_is_refused_without_inflating_it(app, monkeypatch):
    bomb = zeros_gzip(120)  # 120 KB inflating to 120 MB: accepted before
    assert len(bomb) < 200_000

    def never(*args, **kwargs):
        raise AssertionError("inflated although its size was declared")

    monkeypatch.setattr(attachments.gzip, "open", never)
    with pytest.raises(UploadError, match="unpacks to too much data"):
        stage(app, bomb)


def test_a_gzip_that_lies_about_its_size_is_stopped_at_the_limit(app, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_UNPACKED_BYTES", 3 << 20)
    bomb = bytearray(zeros_gzip(50))
    bomb[-4:] = (100).to_bytes(4, "little")  # "100 bytes"
    inflated = []
    real_open = gzip.open

    class Counted:
        def __init__(self, *args, **kwargs):
            self.inner = real_open(*args, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.inner.close()

        def read(self, size):
            chunk = self.inner.read(size)
            inflated.append(len(chunk))
            return chunk

    monkeypatch.setattr(attachments.gzip, "open", Counted)
    with pytest.raises(UploadError, match="unpacks to too much data"):
        stage(app, bytes(bomb))
    assert sum(inflated) <= (3 << 20) + (1 << 20)


def test_a_small_gzip_log_is_accepted(app):
    staged = stage(app, gzip.compress(b"link down on port 1:12\n" * 1000))
    assert staged.size > 0


def test_a_truncated_gzip_is_refused_cleanly(app):
    with pytest.raises(UploadError, match="not a valid gzip"):
        stage(app, b"\x1f\x8b\x08")


@RATE_LIMITED
def test_messages_per_account_and_minute_are_limited(app, world):  # noqa: F811
    case, _ = world["cases"]["shared"]
    customer = app.test_client()
    login(customer, world["users"]["customer_a"])
    url = f"/pl/cases/{case.number}/messages"
    statuses = [
        customer.post(url, data={"body": f"m{n}"}).status_code for n in range(10)
    ]
    assert statuses == [303] * 10
    refused = customer.post(
        url, data={"body": "one more", "files": (io.BytesIO(b"x\n"), "a.log")}
    )
    assert refused.status_code == 429
    assert "Zbyt wiele prób" in refused.get_data(as_text=True)
    engineer = app.test_client()
    login(engineer, world["users"]["engineer"])
    assert engineer.post(url, data={"body": "from staff"}).status_code == 303


@pytest.fixture
def fresh_denials(monkeypatch):
    """Forget the denials earlier tests logged (ids repeat from one test's
    database to the next within this minute)."""
    from hezo import audit

    monkeypatch.setattr(audit, "_denials", {})


@pytest.mark.usefixtures("fresh_denials")
def test_denied_object_access_is_logged_with_the_request_id(app, world, caplog):  # noqa: F811
    case, attachment = world["cases"]["private"]
    partner = app.test_client()
    login(partner, world["users"]["partner_p1"])
    other = world["users"]["customer_b"]
    intruder = app.test_client()
    login(intruder, other)
    caplog.set_level(logging.INFO, logger="hezo.security")
    for url in (
        f"/pl/cases/{case.number}",
        f"/pl/cases/{case.number}/thread",
        f"/pl/cases/{case.number}/pdf",
        f"/pl/cases/{case.number}/files/{attachment.id}",
    ):
        caplog.clear()
        assert intruder.get(url).status_code == 404
        (line,) = [
            r.getMessage() for r in caplog.records if "access_denied" in r.getMessage()
        ]
        assert f"user={other.id}" in line and "request=" in line
        assert f"object_id={case.number}" in line and "cases." in line
        assert case.subject not in line
    caplog.clear()
    assert partner.get(f"/pl/cases/{case.number}").status_code == 404  # not shared
    assert any("access_denied" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("fresh_denials")
def test_walking_ids_does_not_flood_the_log(app, world, caplog):  # noqa: F811
    intruder = app.test_client()
    login(intruder, world["users"]["customer_b"])
    caplog.set_level(logging.INFO, logger="hezo.security")
    for n in range(60):
        intruder.get(f"/pl/cases/ZG-2026-{n}")
    lines = [r for r in caplog.records if "access_denied" in r.getMessage()]
    assert 1 <= len(lines) <= 2 * 20  # at most two minutes' worth in a minute


@pytest.mark.parametrize("value", ["Jan\n", "Jan\u2028Nowak", "Jan\x85", "Jan\r"])
def test_one_line_fields_refuse_every_line_break(client, value):
    response = client.post(
        "/pl/contact",
        data={
            "name": value,
            "email": "jan@example.pl",
            "message": "Proszę o kontakt.",
            "agree": "y",
        },
    )
    assert response.status_code == 422
    message = "W tym polu nie można wstawiać podziałów wiersza."
    assert message in response.get_data(as_text=True)


def test_gunicorn_trusts_no_forwarded_header_itself():
    from pathlib import Path

    from gunicorn.config import Config

    root = Path(__file__).resolve().parent.parent
    settings: dict = {}
    exec((root / "gunicorn.conf.py").read_text(), settings)  # noqa: S102
    config = Config()
    config.set("forwarded_allow_ips", settings["forwarded_allow_ips"])
    assert config.forwarded_allow_ips == []
    for command in (
        (root / "scripts/run").read_text(),
        (root / "README.md").read_text(),
    ):
        assert "gunicorn --config gunicorn.conf.py" in command
