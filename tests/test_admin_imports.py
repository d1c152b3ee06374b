"""Imports in the browser (issue 20): upload, dry run, the real run through
the background worker, progress after a reload, history, refusals."""

import io
import json
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from markupsafe import escape

from hezo.db import db, is_sqlite, utcnow
from hezo.imports import runs
from hezo.imports.runs import ProgressWriter, claim, claim_next
from hezo.imports.worker import run_pass
from hezo.models import (
    Attachment,
    AuditEvent,
    Company,
    ConsentEvent,
    Contract,
    Device,
    ImportRun,
    Message,
    StatusChange,
    SupportCase,
)

from .factories import login, make_user, race

DATA = Path(__file__).parent / "data"
CONTRACTS = DATA / "contracts-sample.csv"
LEGACY = DATA / "legacy-rejects.json"
KEY = "k" * 32


@pytest.fixture
def config_overrides(tmp_path):
    return {"IMPORT_FOLDER": str(tmp_path / "imports"), "IMPORT_MAX_BYTES": 200_000}


@pytest.fixture
def admin(app, dbconn):
    return make_user(role="admin", company=None, email="admin@example.pl")


@pytest.fixture
def browser(app, admin):
    client = app.test_client()
    login(client, admin)
    return client


def upload(client, path, kind, key=None, name=None, lang="pl"):
    content = io.BytesIO(Path(path).read_bytes())
    data = {"kind": kind, "file": (content, name or Path(path).name)}
    if key:
        data["submission_key"] = key
    return client.post(
        f"/{lang}/admin/imports", data=data, content_type="multipart/form-data"
    )


def run_id_of(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    return int(response.location.rstrip("/").rsplit("/", 1)[-1])


def apply(client, run_id, key=None):
    data = {"submission_key": key} if key else {}
    return client.post(f"/pl/admin/imports/{run_id}/apply", data=data)


def with_bad_rows(tmp_path) -> Path:
    """The sample register plus two rows the importer rejects."""
    text = CONTRACTS.read_text(encoding="utf-8").rstrip("\n")
    last = text.splitlines()[-1]
    text += "\n" + last.replace("PW-TAC", "NOPE") + "\n"
    text += last.replace("6281948218", "123") + "\n"
    path = tmp_path / "register.csv"
    path.write_text(text, encoding="utf-8")
    return path


# -- what the database holds, without ids and moments ------------------------


def snapshot() -> dict:
    companies = {c.id: c.nip for c in Company.select()}
    contracts = {c.id: c.number for c in Contract.select()}
    devices = {d.id: d.serial for d in Device.select()}
    cases = {c.id: c.legacy_id for c in SupportCase.select()}
    return {
        "companies": sorted((c.nip, c.name) for c in Company.select()),
        "contracts": sorted(
            (
                c.number,
                c.legacy_number,
                companies[c.customer_id],
                companies.get(c.partner_id),
                c.service_code,
                c.start_date,
                c.end_date,
            )
            for c in Contract.select()
        ),
        "devices": sorted(
            (contracts[d.contract_id], d.serial, d.product) for d in Device.select()
        ),
        "cases": sorted(
            (
                c.legacy_id,
                c.subject,
                c.status,
                c.channel,
                companies[c.company_id],
                contracts[c.contract_id],
                devices[c.device_id],
                c.contact_name,
                c.contact_email,
                c.reported_at,
                c.response_due_at,
                c.first_response_at,
                c.last_activity_at,
            )
            for c in SupportCase.select()
        ),
        "status_changes": sorted(
            (cases[s.case_id], s.to_status, s.note) for s in StatusChange.select()
        ),
        "attachments": sorted(
            (cases[a.case_id], a.filename, a.kind, a.content_type)
            for a in Attachment.select()
        ),
    }


def wipe() -> None:
    for model in (Attachment, Message, StatusChange, ConsentEvent):
        model.delete().execute()
    AuditEvent.delete().where(AuditEvent.case.is_null(False)).execute()
    for model in (SupportCase, Device, Contract, Company):
        model.delete().execute()


def report_as_cli_contracts(report: dict) -> list[str]:
    """The run's report in the words of ``hezo import-contracts``."""
    lines = [f"Rows read: {report['rows']}"]
    for t in report["tables"]:
        lines.append(
            f"{t['name'].capitalize():10} added {t['added']}, updated "
            f"{t['updated']}, unchanged {t['unchanged']}"
        )
    lines.append(f"Rejected rows: {len(report['rejected'])}")
    return lines


def report_as_cli_legacy(report: dict) -> list[str]:
    contracts, cases = report["tables"]
    bad = {
        k: sum(r["where"] == k for r in report["rejected"])
        for k in ("contract", "case")
    }
    return [
        f"Contracts: imported {contracts['added']}, updated {contracts['updated']}, "
        f"unchanged {contracts['unchanged']}, skipped as closed "
        f"{contracts['skipped']}, rejected {bad['contract']}",
        f"Cases: imported {cases['added']}, repaired {cases['updated']}, unchanged "
        f"{cases['unchanged']}, skipped as closed {cases['skipped']}, rejected "
        f"{bad['case']}",
    ] + [f"Rejected {r['where']} {r['ref']}: {r['reason']}" for r in report["rejected"]]


def through_the_browser(app, client, path, kind) -> tuple[ImportRun, ImportRun]:
    """Upload, let the worker do the dry run, apply it, let the worker run it."""
    dry_id = run_id_of(upload(client, path, kind, key="d" * 32))
    assert run_pass(app) == 1
    real_id = run_id_of(apply(client, dry_id, key="r" * 32))
    assert run_pass(app) == 1
    return ImportRun.get_by_id(dry_id), ImportRun.get_by_id(real_id)


# -- the same as the command line --------------------------------------------


def test_contract_register_from_the_browser_equals_the_command(
    app, browser, runner, tmp_path
):
    path = with_bad_rows(tmp_path)
    result = runner.invoke(args=["import-contracts", str(path)])
    assert result.exit_code == 1  # rows were rejected
    by_command = snapshot()
    assert by_command["devices"]
    wipe()

    dry, real = through_the_browser(app, browser, path, "contracts")
    assert (dry.state, real.state) == ("done", "done")
    assert snapshot() == by_command
    report = runs.report_of(real)
    assert "\n".join(report_as_cli_contracts(report)) in result.output
    rejected = [
        f"{path}:{r['ref']}: rejected: {r['reason']}" for r in report["rejected"]
    ]
    assert len(rejected) == 2
    assert all(line in result.output for line in rejected)
    # The dry run said the same before anything was written.
    assert runs.report_of(dry) == report


def test_legacy_export_from_the_browser_equals_the_command(
    app, browser, runner, tmp_path
):
    result = runner.invoke(args=["import-legacy", str(LEGACY), "--workers", "1"])
    assert result.exit_code == 1, result.output
    by_command = snapshot()
    assert by_command["cases"] and by_command["attachments"]
    wipe()
    shutil.rmtree(app.config["UPLOAD_FOLDER"], ignore_errors=True)

    dry, real = through_the_browser(app, browser, LEGACY, "legacy")
    assert snapshot() == by_command
    report = runs.report_of(real)
    assert report["rejected"]
    assert "\n".join(report_as_cli_legacy(report)) in result.output
    assert runs.report_of(dry) == report
    # The applied file is no longer kept; the real run's page shows the figures.
    assert not runs.stored_file(real).exists()
    html = browser.get(f"/en/admin/imports/{real.id}").get_data(as_text=True)
    assert "The import is done." in html
    for line in report["rejected"]:
        assert str(escape(line["reason"])) in html
    # In Polish, in Polish words (the record's values kept).
    html = browser.get(f"/pl/admin/imports/{real.id}").get_data(as_text=True)
    assert "Import jest zakończony." in html
    assert "rekord o złej budowie: nieprawidłowy NIP klienta" in html


def test_dry_run_writes_nothing_and_shows_what_would_change(app, browser):
    before = snapshot()
    audit_before = AuditEvent.select().count()
    dry_id = run_id_of(upload(browser, CONTRACTS, "contracts"))
    assert run_pass(app) == 1
    assert snapshot() == before
    assert Company.select().count() == 0
    # Only the console's own events: queued and done.
    assert [e.action for e in AuditEvent.select().order_by(AuditEvent.id)][
        audit_before:
    ] == ["import_queued", "import_done"]
    html = browser.get(f"/pl/admin/imports/{dry_id}").get_data(as_text=True)
    assert "nic nie zostało zapisane" in html
    figures = re.search(
        r'data-table="contracts">.*?data-figure="added">(\d+)<', html, re.S
    )
    assert figures.group(1) == "3"
    assert 'data-testid="import-apply"' in html


# -- the worker ----------------------------------------------------------------


def queued(admin, count=1) -> list[int]:
    now = utcnow()
    return [
        runs.queue_dry_run(admin, "contracts", "a.csv", "none.csv", 10, now).id
        for _ in range(count)
    ]


def test_two_claims_of_one_run_give_it_to_one_worker(app, admin):
    (run_id,) = queued(admin)
    assert claim(run_id, utcnow()) is True
    assert claim(run_id, utcnow()) is False
    assert claim_next(utcnow()) is None


def test_two_workers_at_once_never_run_the_same_import(app, admin):
    ids = queued(admin, 6)

    def claim_all():
        mine = []
        while (run := claim_next(utcnow())) is not None:
            mine.append(run.id)
        return mine

    first, second = race(app, claim_all, threads=2)
    assert sorted(first + second) == ids
    assert not set(first) & set(second)
    db.connect(reuse_if_open=True)
    assert {r.state for r in ImportRun.select()} == {"running"}


def test_the_command_runs_what_is_queued(app, browser, runner):
    run_id = run_id_of(upload(browser, CONTRACTS, "contracts"))
    result = runner.invoke(args=["import-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert ImportRun.get_by_id(run_id).state == "done"


def test_a_file_gone_missing_fails_the_run_with_a_message(app, browser):
    run_id = run_id_of(upload(browser, CONTRACTS, "contracts"))
    runs.stored_file(ImportRun.get_by_id(run_id)).unlink()
    run_pass(app)
    html = browser.get(f"/pl/admin/imports/{run_id}").get_data(as_text=True)
    assert ImportRun.get_by_id(run_id).state == "failed"
    assert "Prześlij go ponownie" in html
    assert AuditEvent.get(AuditEvent.action == "import_failed").object_id == str(run_id)


def test_a_dry_run_not_imported_within_a_week_loses_its_file(app, browser):
    old_id = run_id_of(upload(browser, CONTRACTS, "contracts", key="o" * 32))
    new_id = run_id_of(upload(browser, CONTRACTS, "contracts", key="n" * 32))
    run_pass(app)
    ImportRun.update(created_at=utcnow() - timedelta(days=8)).where(
        ImportRun.id == old_id
    ).execute()
    run_pass(app)
    old, new = ImportRun.get_by_id(old_id), ImportRun.get_by_id(new_id)
    assert not runs.file_kept(old) and runs.file_kept(new)
    assert len(list(Path(app.config["IMPORT_FOLDER"]).glob("*.csv"))) == 1
    html = browser.get(f"/pl/admin/imports/{old_id}").get_data(as_text=True)
    assert 'data-testid="import-file-gone"' in html
    assert 'data-testid="import-apply"' not in html
    assert 'data-testid="import-figures"' in html  # the report stays
    assert apply(browser, old_id).status_code == 303
    assert ImportRun.select().count() == 2


# -- progress --------------------------------------------------------------------


def test_progress_is_read_from_the_database_after_a_reload(app, admin, browser):
    (run_id,) = queued(admin)
    ImportRun.update(progress_total=2000).where(ImportRun.id == run_id).execute()
    assert claim(run_id, utcnow())
    ProgressWriter(run_id, 1.0)._write(500)

    fresh = app.test_client()  # a reload, even in another browser
    login(fresh, admin)
    html = fresh.get(f"/pl/admin/imports/{run_id}").get_data(as_text=True)
    assert 'max="2000" value="500"' in html
    assert "25%" in html
    # It asks for itself (htmx) and offers a link without JavaScript.
    assert 'hx-trigger="every 2s"' in html
    assert f'<a href="/pl/admin/imports/{run_id}">Odśwież</a>' in html
    fragment = fresh.get(
        f"/pl/admin/imports/{run_id}", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert fragment.strip().startswith('<section id="import-status"')
    assert "<footer" not in fragment


def test_the_worker_writes_progress_while_it_reads(app, admin):
    """The helper thread writes the position the importer reports, on its
    own connection, while the import goes on."""
    (run_id,) = queued(admin)
    assert claim(run_id, utcnow())
    seen = None
    with ProgressWriter(run_id, 0.01) as writer:
        writer(1234)
        deadline = time.monotonic() + 5
        while seen != 1234 and time.monotonic() < deadline:
            time.sleep(0.02)
            seen = ImportRun.get_by_id(run_id).progress_done
    assert seen == 1234


def test_a_finished_run_stops_polling_and_shows_its_report(app, browser):
    run_id = run_id_of(upload(browser, CONTRACTS, "contracts"))
    run_pass(app)
    html = browser.get(f"/pl/admin/imports/{run_id}").get_data(as_text=True)
    assert "hx-trigger" not in html.split('id="import-status"', 1)[1]
    assert 'data-testid="import-figures"' in html


# -- refusals ----------------------------------------------------------------------


LEGACY_FORMAT = "myhezo-legacy/1"
BAD_FILES = {
    "empty": ("contracts", b"", "register.csv", "Plik jest pusty."),
    "binary": ("contracts", b"\x89PNG\r\n\x00\x00", "r.csv", "nie jest tekstem"),
    "wrong columns": ("contracts", b"a;b;c\n1;2;3\n", "r.csv", "brakuje kolumn"),
    "not csv": ("contracts", b'{"format": "x"}', "export.json", "plik CSV"),
    "not legacy": ("legacy", b'{"format": "other/1"}', "e.json", LEGACY_FORMAT),
    "legacy not json": ("legacy", b"contract_number;x\n", "e.json", LEGACY_FORMAT),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_a_translated_message(app, browser, tmp_path, case):
    kind, content, name, message = BAD_FILES[case]
    path = tmp_path / name
    path.write_bytes(content)
    response = upload(browser, path, kind)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert ImportRun.select().count() == 0
    assert not [p for p in (tmp_path / "imports").glob("*")]


def test_a_file_over_the_limit_is_refused(app, browser, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(CONTRACTS.read_bytes() * 300)  # over 200 kB, in memory
    response = upload(browser, path, "contracts", lang="en")
    assert response.status_code == 413
    assert "larger than" in response.get_data(as_text=True)
    assert ImportRun.select().count() == 0


def test_a_form_without_file_or_kind_says_what_is_missing(app, browser):
    response = browser.post("/pl/admin/imports", data={})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Wybierz, czym jest plik." in html
    response = browser.post("/pl/admin/imports", data={"kind": "contracts"})
    assert response.status_code == 422
    assert "Wybierz plik do importu." in response.get_data(as_text=True)


NASTY = ("", "\x00", "١٢", "99999999999999999999", "a\u2028b", "x" * 5000)


@pytest.mark.parametrize("value", NASTY)
def test_nasty_values_as_an_administrator_never_give_a_server_error(
    app, browser, admin, value
):
    (run_id,) = queued(admin)
    form = {"kind": value, "file": value, "submission_key": value}
    for method, url, data in (
        ("post", "/pl/admin/imports", form),
        ("post", "/pl/admin/imports", dict(form, kind="legacy")),
        ("post", f"/pl/admin/imports/{run_id}/apply", form),
        ("get", f"/pl/admin/imports?page={value}", None),
        ("get", f"/pl/admin/imports/{run_id}?page={value}", None),
    ):
        response = getattr(browser, method)(url, data=data)
        assert response.status_code < 500, (method, url, value)
    assert ImportRun.select().count() == 1


# -- double submits --------------------------------------------------------------


def test_the_same_upload_sent_twice_queues_one_run(app, browser):
    first = upload(browser, CONTRACTS, "contracts", key=KEY)
    second = upload(browser, CONTRACTS, "contracts", key=KEY)
    assert second.status_code == 303 and second.location == first.location
    assert ImportRun.select().count() == 1
    assert len(list(Path(app.config["IMPORT_FOLDER"]).glob("*.csv"))) == 1


def test_a_dry_run_is_imported_once(app, browser, admin):
    dry_id = run_id_of(upload(browser, CONTRACTS, "contracts"))
    assert run_pass(app) == 1
    first = apply(browser, dry_id, key="a" * 32)
    again = apply(browser, dry_id, key="a" * 32)  # the same form twice
    other = apply(browser, dry_id, key="b" * 32)  # another tab
    assert first.location == again.location == other.location
    assert ImportRun.select().where(ImportRun.dry_run == False).count() == 1  # noqa: E712


def test_a_queued_dry_run_cannot_be_applied(app, browser):
    dry_id = run_id_of(upload(browser, CONTRACTS, "contracts"))
    response = apply(browser, dry_id)
    assert response.status_code == 303
    assert ImportRun.select().count() == 1


# -- history and access ----------------------------------------------------------


def test_history_lists_newest_first_with_who_ran_it_paged(app, browser, admin):
    ids = queued(admin, 23)
    html = browser.get("/pl/admin/imports").get_data(as_text=True)
    links = re.findall(r'href="/pl/admin/imports/(\d+)"', html)
    assert [int(i) for i in links] == sorted(ids, reverse=True)[:20]
    assert admin.full_name in html
    assert "Strona 1 z 2" in html
    html = browser.get("/pl/admin/imports?page=2").get_data(as_text=True)
    links = re.findall(r'href="/pl/admin/imports/(\d+)"', html)
    assert [int(i) for i in links] == sorted(ids, reverse=True)[20:]


def test_only_administrators_get_in(app, admin, dbconn):
    (run_id,) = queued(admin)
    engineer = make_user(role="engineer", company=None, email="inz@example.pl")
    client = app.test_client()
    login(client, engineer)
    for method, url in (
        ("get", "/pl/admin/imports"),
        ("post", "/pl/admin/imports"),
        ("get", f"/pl/admin/imports/{run_id}"),
        ("post", f"/pl/admin/imports/{run_id}/apply"),
    ):
        assert getattr(client, method)(url).status_code in (403, 404)
    assert ImportRun.select().count() == 1


def test_the_console_start_page_links_the_section(browser):
    html = browser.get("/en/admin/").get_data(as_text=True)
    assert 'href="/en/admin/imports"' in html


def test_report_is_json_of_the_figures(app, browser):
    run_id = run_id_of(upload(browser, CONTRACTS, "contracts"))
    run_pass(app)
    report = json.loads(ImportRun.get_by_id(run_id).report)
    assert [t["name"] for t in report["tables"]] == [
        "companies",
        "contracts",
        "devices",
    ]


def test_a_run_whose_worker_was_killed_is_failed_not_running_for_ever(app, admin):
    """A worker killed with ``kill -9`` leaves its run "running". On the same
    machine its process is gone: the imports pages (or the next worker
    pass) mark the run failed at once, with the reason. On another machine
    the heartbeat decides: none for ``IMPORT_LOST_SECONDS``, lost; a fresh
    one, still running."""
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    killed, far_dead, far_alive = queued(admin, 3)
    old = utcnow() - timedelta(minutes=30)
    assert claim(killed, utcnow())  # a fresh heartbeat: its gone process decides
    for run_id in (far_dead, far_alive):
        assert claim(run_id, old)
    workers = {
        killed: f"{socket.gethostname()}:{gone.pid}",
        far_dead: "another-host:4242",
        far_alive: "another-host:4343",
    }
    for run_id, worker in workers.items():
        ImportRun.update(worker=worker).where(ImportRun.id == run_id).execute()
    with ProgressWriter(far_alive, 0.01) as writer:  # writes its heartbeat
        writer(10)
        deadline = time.monotonic() + 5
        while ImportRun.get_by_id(far_alive).progress_done != 10:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    client = app.test_client()
    login(client, admin)
    html = client.get(f"/pl/admin/imports/{killed}").get_data(as_text=True)
    states = {i: ImportRun.get_by_id(i).state for i in workers}
    assert states == {killed: "failed", far_dead: "failed", far_alive: "running"}
    assert "przerwał pracę, zanim skończył" in html
    events = AuditEvent.select().where(AuditEvent.action == "import_failed")
    assert sorted(int(e.object_id) for e in events) == sorted([killed, far_dead])
    assert all("lost" in e.details for e in events)
    # Looked at again, or a worker's pass: nothing more happens.
    client.get("/pl/admin/imports")
    run_pass(app)
    assert AuditEvent.select().where(AuditEvent.action == "import_failed").count() == 2


def test_a_live_workers_sqlite_dry_run_is_not_taken_for_lost(app, admin):
    """A dry run on SQLite holds its transaction to the end, so it writes no
    heartbeat: while its worker's process lives it is not lost, however
    long it takes. (On PostgreSQL a live worker writes its heartbeat.)"""
    (run_id,) = queued(admin)
    assert claim(run_id, utcnow() - timedelta(hours=2))  # this process, alive
    run = ImportRun.get_by_id(run_id)
    assert runs.seems_lost(run, utcnow()) is not is_sqlite()
    assert runs.seems_lost(run, run.started_at) is False


def test_rejection_reasons_are_in_the_pages_language(app, browser, tmp_path):
    """The importers give their reasons in English (the command line's); the
    console's report shows them in the page's language, values kept."""
    run_id = run_id_of(upload(browser, with_bad_rows(tmp_path), "contracts"))
    run_pass(app)
    polish = browser.get(f"/pl/admin/imports/{run_id}").get_data(as_text=True)
    english = browser.get(f"/en/admin/imports/{run_id}").get_data(as_text=True)
    assert "nieznany kod usługi &#39;NOPE&#39;" in polish
    assert "nieprawidłowy NIP" in polish and "&#39;123&#39;" in polish
    assert "unknown service code" not in polish and "invalid" not in polish
    assert "unknown service code &#39;NOPE&#39;" in english


@pytest.mark.parametrize(
    ("reason", "polish"),
    [
        ("missing contract number", "brak numeru umowy"),
        (
            "contract HZ-1 differs from line 7",
            "umowa HZ-1 różni się od tej z wiersza 7",
        ),
        (
            "malformed record: missing number",
            "rekord o złej budowie: brak pola number",
        ),
        (
            "database refused it: value too long",
            "baza danych go odrzuciła: value too long",
        ),
        ("something nobody foresaw", "something nobody foresaw"),
    ],
)
def test_each_kind_of_reason_has_its_words(app, reason, polish):
    from hezo.admin.import_reasons import reason_text
    from hezo.i18n import in_language

    with app.test_request_context("/pl/"), in_language("pl"):
        assert reason_text(reason) == polish
