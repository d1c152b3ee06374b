"""``hezo backup`` and ``hezo restore``: a populated portal into an empty one."""

import io
import json
import secrets
from datetime import date
from pathlib import Path

import psycopg
import pytest

from hezo import create_app
from hezo.db import db
from hezo.demo import ensure_demo_accounts, load_demo
from hezo.models import ALL_MODELS, Attachment, Company, SupportCase

from .conftest import PG_URL, TEST_CONFIG, database_config
from .factories import login, make_company, make_contract, make_user


def snapshot(upload_folder) -> tuple[dict, dict]:
    """Every row of every table, and every stored file with its bytes."""
    tables = {
        model._meta.table_name: list(
            model.select().order_by(model._meta.primary_key).tuples()
        )
        for model in ALL_MODELS
    }
    root = Path(upload_folder)
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    return tables, files


def populate(client):
    load_demo(date.today())
    ensure_demo_accounts()
    company = make_company("7792433527", "Szpital Miejski w Łodzi")
    contract = make_contract(customer=company, serials=("1942Y-77001",))
    login(client, make_user(company=company))
    opened = client.post(
        "/pl/cases/new",
        data={
            "contract": contract.number,
            "serial": "1942Y-77001",
            "subject": "Zasilacz piszczy — „głośno”",
            "description": "Od rana.\nŻółte światło.",
            "severity": "minor",
            "contact_phone": "+48 600 100 200",
            "files": [(io.BytesIO(b"psu fan 4200 rpm\n"), "psu.log")],
        },
        content_type="multipart/form-data",
    )
    assert opened.status_code == 303, opened.get_data(as_text=True)[-3000:]
    reply = client.post(
        opened.location + "/messages",
        data={"body": "I zdjęcie.", "files": [(io.BytesIO(b"%PDF-1.4\n"), "a.pdf")]},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 303, reply.get_data(as_text=True)[-3000:]


@pytest.fixture
def empty_target(tmp_path):
    """Settings of a second, empty portal (database and upload folder)."""
    schema = None
    if PG_URL:
        schema = f"hezo_restore_{secrets.token_hex(4)}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    (tmp_path / "target").mkdir()
    yield (
        TEST_CONFIG
        | database_config(tmp_path / "target", schema)
        | {"UPLOAD_FOLDER": str(tmp_path / "target" / "uploads")}
    )
    if schema:
        db.close()
        db.obj.close_all()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_backup_restores_into_an_empty_portal_identically(
    app, client, dbconn, runner, tmp_path, empty_target
):
    populate(client)
    assert Attachment.select().count() >= 2
    before = snapshot(app.config["UPLOAD_FOLDER"])
    assert all(before[0][m._meta.table_name] for m in (Company, SupportCase))

    result = runner.invoke(args=["backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["missing_files"] == []
    db.close()

    target = create_app(empty_target)
    # (Its own context: the CLI would reuse the test's, of the first portal.)
    with target.app_context():
        result = target.test_cli_runner().invoke(
            args=["restore", str(tmp_path / "backup")]
        )
        assert result.exit_code == 0, result.output
        assert snapshot(empty_target["UPLOAD_FOLDER"]) == before
        # New rows continue after the restored ids (PostgreSQL's sequences).
        newest = max(c.id for c in Company.select())
        assert Company.create(nip="1234563218", name="Nowa").id > newest

        again = target.test_cli_runner().invoke(
            args=["restore", str(tmp_path / "backup")]
        )
        assert again.exit_code == 1 and "not empty" in again.output
    db.close()


def test_unfinished_backup_is_refused(app, dbconn, tmp_path, empty_target):
    (tmp_path / "half" / "database").mkdir(parents=True)
    db.close()
    target = create_app(empty_target)
    with target.app_context():
        result = target.test_cli_runner().invoke(
            args=["restore", str(tmp_path / "half")]
        )
    assert result.exit_code == 1 and "no finished backup" in result.output
    db.close()
