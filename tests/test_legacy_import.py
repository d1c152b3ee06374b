import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from hezo.attachments import stored_path
from hezo.imports import legacy_pdf
from hezo.imports.legacy import LegacyFormatError, import_legacy
from hezo.models import (
    Attachment,
    Company,
    Contract,
    Device,
    Message,
    StatusChange,
    SupportCase,
    User,
)

from .factories import login, make_user

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "legacy-sample.json"
REJECTS = DATA / "legacy-rejects.json"
MARKUP = DATA / "legacy-markup.json"
SEVERAL = DATA / "legacy-several.json"
SUBJECT = "Przełącznik X465 restartuje się po aktualizacji"
MODELS = (
    Company,
    Contract,
    Device,
    SupportCase,
    Attachment,
    StatusChange,
    Message,
    User,
)


def counts() -> dict:
    return {model.__name__: model.select().count() for model in MODELS}


def pdf_text(attachment: Attachment) -> str:
    data = stored_path(attachment.sha256).read_bytes()
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def upload_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_FOLDER"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def tallies(report) -> tuple:
    c, k = report.contracts, report.cases
    return (
        (c.imported, c.updated, c.unchanged, c.skipped_closed),
        (k.imported, k.repaired, k.unchanged, k.skipped_closed),
        sorted((r.kind, r.legacy_id, r.reason) for r in report.rejected),
    )


def migrated_state(app) -> list[tuple]:
    """Everything a run leaves, without row ids (which differ between runs)."""
    rows = []
    for case in SupportCase.select().order_by(SupportCase.legacy_id):
        files = list(Attachment.select().where(Attachment.case == case))
        rows.append(
            (
                case.legacy_id,
                case.status,
                case.subject,
                case.contract.number,
                case.device.serial,
                case.reported_at,
                case.channel,
                [(f.kind, f.filename, stored_path(f.sha256).is_file()) for f in files],
                [s.to_status for s in case.status_changes],
            )
        )
    return rows + [len(upload_files(app))]


def test_sample_imports_one_contract_and_one_case(app, dbconn):
    report = import_legacy(SAMPLE, workers=1)
    assert tallies(report) == ((1, 0, 0, 0), (1, 0, 0, 1), [])
    case = SupportCase.get()
    assert case.contract.number == "HZ-2025-000123"
    assert case.device.serial == "1942Y-40125"
    assert case.company.nip == "5260181596"
    assert (case.status, case.channel, case.is_shared) == (
        "in_verification",
        "migrated",
        False,
    )
    assert case.subject == SUBJECT
    assert case.legacy_id == "ZGL/2026/00412"
    assert case.number.startswith("ZG-2026-")
    assert case.reported_at == datetime(2026, 11, 18, 8, 12, tzinfo=UTC)
    assert case.created_at == case.reported_at
    assert (case.contact_name, case.contact_email, case.contact_phone) == (
        "Jan Żółkiewski",
        "jan.zolkiewski@example.pl",
        "+48 600 100 200",
    )
    assert case.reporter is None and case.first_response_at == datetime(
        2026, 11, 18, 8, 41, tzinfo=UTC
    )
    assert [(s.from_status, s.to_status) for s in case.status_changes] == [
        ("", "in_verification")
    ]
    assert Message.select().count() == 0 and User.select().count() == 0


def test_sample_dialogue_pdf_holds_every_message(app, dbconn):
    import_legacy(SAMPLE, workers=1)
    attachment = Attachment.get()
    assert (attachment.kind, attachment.filename, attachment.content_type) == (
        "legacy_dialogue",
        "ZGL-2026-00412-dialogue.pdf",
        "application/pdf",
    )
    assert attachment.message is None
    text = pdf_text(attachment)
    for expected in (
        "ZGL/2026/00412",
        SUBJECT,
        "Jan Żółkiewski",
        "Inżynier HEZO",
        "Po aktualizacji do 32.7 przełącznik restartuje się co około "
        "40 minut. W załączeniu logi.",
        "Dzień dobry, proszę o wynik polecenia show log po kolejnym restarcie.",
        "09:12",
        "09:41",
    ):  # Warsaw time of 08:12 and 08:41 UTC
        assert expected in text


def test_second_run_changes_nothing(app, dbconn):
    import_legacy(SAMPLE, workers=1)
    before = counts()
    case = SupportCase.get()
    report = import_legacy(SAMPLE, workers=1)
    assert tallies(report) == ((0, 0, 1, 0), (0, 0, 1, 1), [])
    assert counts() == before
    assert SupportCase.get().number == case.number


def test_each_bad_record_is_reported_and_the_good_ones_kept(app, dbconn):
    report = import_legacy(REJECTS, workers=1)
    assert tallies(report)[:2] == ((2, 0, 0, 1), (2, 0, 0, 1))
    reasons = {(r.kind, r.legacy_id): r.reason for r in report.rejected}
    assert reasons[("contract", "PW/2023/0999")].startswith(
        "malformed record: invalid customer NIP"
    )
    assert reasons[("case", "ZGL/2026/00501")] == "unknown company"
    assert reasons[("case", "ZGL/2026/00502")] == "contract not found"
    # A contract of another company is as good as none.
    assert reasons[("case", "ZGL/2026/00503")] == "contract not found"
    assert reasons[("case", "ZGL/2026/00504")] == "serial not on contract"
    assert reasons[("case", "ZGL/2026/00505")] == "malformed record: missing subject"
    assert reasons[("case", "ZGL/2026/00506")].startswith(
        "malformed record: invalid created_at"
    )
    assert reasons[("case", "ZGL/2026/00507")].endswith("has no UTC offset")
    assert reasons[("case", "#9")] == "malformed record: not an object"
    assert reasons[("case", "ZGL/2026/00508")].startswith(
        "malformed record: unknown status"
    )
    assert len(report.rejected) == 10
    assert {c.legacy_id for c in SupportCase.select()} == {
        "ZGL/2026/00500",
        "ZGL/2026/00509",
    }
    assert (
        SupportCase.get(SupportCase.legacy_id == "ZGL/2026/00509").contract.number
        == "HZ-2025-000200"
    )
    assert Device.get(Device.serial == "SW-ŁÓDŹ-01").contract.legacy_number == (
        "PW/2024/0101"
    )
    assert "OLD-1" not in {d.serial for d in Device.select()}
    text = report.format()
    assert "Rejected case ZGL/2026/00501: unknown company" in text


def test_cases_may_come_before_their_contracts(app, dbconn):
    report = import_legacy(MARKUP, workers=1)
    assert tallies(report) == ((1, 0, 0, 0), (1, 0, 0, 0), [])


def test_markup_is_kept_as_text_in_pdf_and_escaped_on_the_page(app, dbconn, client):
    import_legacy(MARKUP, workers=1)
    case = SupportCase.get()
    assert case.subject == "<script>alert(1)</script> Zasilacz & wentylator"
    text = pdf_text(Attachment.get())
    assert "<img src=x onerror=alert(1)>" in text
    assert "<script>alert(1)</script>" in text
    assert "<b>Jan</b> Żółkiewski" in text
    assert "Druga linia & znak < mniejszości." in text
    user = make_user(company=Company.get(Company.nip == "5260181596"))
    login(client, user)
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Zasilacz &amp; wentylator" in page
    assert "<script>alert(1)" not in page


def test_interrupted_run_then_rerun_ends_as_one_clean_run(app, dbconn, monkeypatch):
    import_legacy(SEVERAL, workers=1)
    clean = migrated_state(app)
    assert len(clean) == 7 and clean[-1] == 6
    SupportCase.delete().execute()
    shutil.rmtree(app.config["UPLOAD_FOLDER"])

    real, placed = legacy_pdf.place_staged, []

    def killed_on_third(files):  # the third case's file is in place, its rows not
        real(files)
        placed.extend(files)
        if len(placed) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(legacy_pdf, "place_staged", killed_on_third)
    with pytest.raises(KeyboardInterrupt):
        import_legacy(SEVERAL, workers=1)
    monkeypatch.undo()
    # A file no row names yet, never a row without its file.
    assert SupportCase.select().count() == 2 and len(upload_files(app)) == 3

    report = import_legacy(SEVERAL, workers=1)
    assert tallies(report)[1] == (4, 0, 2, 1)
    # The same rows, each with its file; the killed run's PDF stays beside
    # them, named by no row (it showed no case number yet): harmless.
    assert migrated_state(app)[:-1] == clean[:-1]
    assert migrated_state(app)[-1] == clean[-1] + 1
    assert tallies(import_legacy(SEVERAL, workers=1))[1] == (0, 0, 6, 1)


def test_case_without_its_dialogue_attachment_is_repaired(app, dbconn):
    import_legacy(SEVERAL, workers=1)
    case = SupportCase.get(SupportCase.legacy_id == "ZGL/2026/00602")
    Attachment.delete().where(Attachment.case == case).execute()
    report = import_legacy(SEVERAL, workers=1)
    assert tallies(report)[1] == (0, 1, 5, 1)
    attachment = Attachment.get(Attachment.case == case)
    assert attachment.kind == "legacy_dialogue"
    assert stored_path(attachment.sha256).is_file()
    assert case.number in pdf_text(attachment)  # known by now, so it is shown
    assert SupportCase.select().count() == 6 and Attachment.select().count() == 6


def test_pool_of_two_workers_renders_the_same(app, dbconn):
    report = import_legacy(SEVERAL, workers=2)
    assert tallies(report) == ((1, 0, 0, 0), (6, 0, 0, 1), [])
    for attachment in Attachment.select():
        assert "Proszę o logi." in pdf_text(attachment)
    assert [c.legacy_id for c in SupportCase.select().order_by(SupportCase.id)] == [
        f"ZGL/2026/{n:05d}" for n in range(600, 606)
    ]


def test_dry_run_writes_nothing_and_reports_the_same(app, dbconn):
    dry = import_legacy(REJECTS, dry_run=True, workers=1)
    assert all(n == 0 for n in counts().values())
    assert upload_files(app) == []
    real = import_legacy(REJECTS, workers=1)
    assert tallies(dry) == tallies(real)
    assert dry.dry_run and "dry run" in dry.format()


def test_file_that_is_no_legacy_export_is_refused(app, dbconn, tmp_path):
    for name, content in (
        ("list.json", "[1, 2]"),
        ("cut.json", '{"contracts": [{'),
        ("other.json", '{"format": "other/2", "cases": []}'),
    ):
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(LegacyFormatError):
            import_legacy(path, workers=1)
    assert all(n == 0 for n in counts().values())


def test_command_prints_and_writes_the_report(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["import-legacy", str(SAMPLE), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert (
        "Cases: imported 1, repaired 0, unchanged 0, skipped as closed 1"
        in result.output
    )
    [written] = (tmp_path / "instance").glob("legacy-import-*.txt")
    assert "Contracts: imported 1" in written.read_text("utf-8")

    report = tmp_path / "rejects.txt"
    result = runner.invoke(
        args=["import-legacy", str(REJECTS), "--workers", "1", "--report", str(report)]
    )
    assert result.exit_code == 1
    assert "Rejected case ZGL/2026/00502: contract not found" in result.output
    assert "Rejected case ZGL/2026/00502: contract not found" in report.read_text()


def test_command_dry_run_prints_the_same_counts(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    dry = runner.invoke(
        args=["import-legacy", str(SAMPLE), "--dry-run", "--workers", "1"]
    )
    assert dry.exit_code == 0, dry.output
    assert not (tmp_path / "instance").exists() and upload_files(app) == []
    real = runner.invoke(args=["import-legacy", str(SAMPLE), "--workers", "1"])
    lines = [line for line in real.output.splitlines() if line.startswith("Cases:")]
    assert lines and lines[0] in dry.output


def test_command_refuses_a_broken_file(app, runner, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "myhezo-legacy/1", "contracts": [')
    result = runner.invoke(args=["import-legacy", str(path), "--workers", "1"])
    assert result.exit_code == 1 and "not valid JSON" in result.output


def test_customer_registering_afterwards_sees_the_case_and_its_pdf(app, dbconn, client):
    import_legacy(SAMPLE, workers=1)
    case, attachment = SupportCase.get(), Attachment.get()
    user = make_user(company=Company.get(Company.nip == "5260181596"))
    login(client, user)
    listing = client.get("/pl/cases/").get_data(as_text=True)
    assert case.number in listing and SUBJECT in listing
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert "ZGL/2026/00412" in page and "ZGL-2026-00412-dialogue.pdf" in page
    with client.get(f"/pl/cases/{case.number}/files/{attachment.id}") as response:
        assert response.status_code == 200
        assert response.data.startswith(b"%PDF")
