from pathlib import Path

import pytest

from hezo.cases.queries import scope
from hezo.imports.contracts import (
    ContractRegisterSync,
    import_contract_register,
    read_contract_register,
)
from hezo.models import Company, ConsentEvent, Contract, Device, SupportCase

from .factories import make_case_with_file, make_company, make_user

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "contracts-sample.csv"
HEADER = (
    "contract_number;legacy_contract_number;customer_nip;customer_name;"
    "partner_nip;partner_name;service_code;start_date;end_date;"
    "serial_number;product\n"
)
GOOD = (
    "HZ-2025-000900;;5260181596;Żółw Sp. z o.o.;1860913901;NetPartner S.A.;"
    "PW-TAC;2025-01-01;2027-12-31;SN-1;X465\n"
)


def counts():
    return Company.select().count(), Contract.select().count(), Device.select().count()


def write(tmp_path, text, encoding="utf-8", name="register.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_sample_gives_three_contracts_three_companies_four_devices(dbconn):
    report = import_contract_register(SAMPLE)
    assert report.rejected == []
    assert counts() == (3, 3, 4)
    contracts = {
        d.contract.number for d in Device.select().where(Device.serial == "1942Y-40125")
    }
    assert contracts == {"HZ-2025-000123", "HZ-2025-000124"}


def test_second_import_changes_nothing(dbconn):
    import_contract_register(SAMPLE)
    before = [(c.id, c.updated_at) for c in Contract.select().order_by(Contract.id)]
    report = import_contract_register(SAMPLE)
    assert counts() == (3, 3, 4)
    assert (report.contracts.added, report.contracts.updated) == (0, 0)
    assert report.contracts.unchanged == 3
    assert report.devices.unchanged == 4 and report.devices.added == 0
    after = [(c.id, c.updated_at) for c in Contract.select().order_by(Contract.id)]
    assert after == before


def test_windows_1250_with_commas_gives_the_same_result(dbconn, tmp_path):
    text = SAMPLE.read_text("utf-8").replace(";", ",")
    path = write(tmp_path, text, "cp1250")
    assert import_contract_register(path).rejected == []
    assert counts() == (3, 3, 4)
    assert Company.get(Company.nip == "5260181596").name == (
        "Przedsiębiorstwo Łączności Żółw Sp. z o.o."
    )
    assert import_contract_register(SAMPLE).contracts.unchanged == 3


def test_utf8_bom_and_reordered_columns_are_read(dbconn, tmp_path):
    cols = HEADER.strip().split(";")
    values = GOOD.strip().split(";")
    order = list(reversed(range(len(cols))))
    text = (
        ";".join(cols[i] for i in order)
        + ";extra\n"
        + ";".join(values[i] for i in order)
        + ";ignored\n"
    )
    path = write(tmp_path, "\ufeff" + text)
    assert import_contract_register(path).rejected == []
    assert Contract.get().service_code == "PW-TAC"


def test_serials_are_trimmed_and_case_folded(dbconn):
    import_contract_register(SAMPLE)
    assert {d.serial for d in Device.select()} == {
        "1942Y-40125",
        "1942Y-40126",
        "SW-88812",
    }


def test_changed_row_updates_the_contract_and_device(dbconn, tmp_path):
    import_contract_register(write(tmp_path, HEADER + GOOD))
    changed = GOOD.replace("2027-12-31", "31.12.2028").replace("X465", "X465-24")
    report = import_contract_register(write(tmp_path, HEADER + changed, name="b.csv"))
    assert (report.contracts.updated, report.devices.updated) == (1, 1)
    assert str(Contract.get().end_date) == "2028-12-31"
    assert Device.get().product == "X465-24"


def test_a_new_partner_on_a_contract_does_not_inherit_its_shared_cases(
    app, dbconn, tmp_path
):
    # The customer agreed to share the case with NetPartner; the register then
    # names another partner for the contract. That partner must not read it.
    import_contract_register(write(tmp_path, HEADER + GOOD))
    contract = Contract.get()
    netpartner = contract.partner_id
    customer = make_user(company=contract.customer)
    case, _ = make_case_with_file(app, customer, contract, "zasilacz", share=True)
    other = make_user(
        role="partner", company=make_company("9542751782", "Sieciowo Sp. z o.o.")
    )
    moved = GOOD.replace("1860913901;NetPartner S.A.", "9542751782;Sieciowo Sp. z o.o.")
    import_contract_register(write(tmp_path, HEADER + moved, name="b.csv"))
    assert Contract.get().partner_id == other.company_id
    visible = scope(SupportCase.select().join(Contract), other)
    assert list(visible) == []
    assert not SupportCase.get_by_id(case.id).is_shared
    last = ConsentEvent.select().order_by(ConsentEvent.id.desc()).get()
    assert (last.partner_id, last.is_granted, last.via) == (
        netpartner,
        False,
        "register_import",
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (GOOD.replace("5260181596", "5260181597"), "invalid customer NIP"),
        (GOOD.replace("1860913901", "186091390"), "invalid partner NIP"),
        (GOOD.replace("PW-TAC", "PW-GOLD"), "unknown service code"),
        (GOOD.replace("2027-12-31", "2024-12-31"), "end date before start date"),
        (GOOD.replace("SN-1", "  "), "missing serial number"),
        (GOOD.replace("2025-01-01", "2025-13-01"), "invalid start date"),
        (GOOD.replace("HZ-2025-000900", ""), "missing contract number"),
    ],
)
def test_bad_row_is_reported_by_line_and_good_rows_kept(dbconn, tmp_path, row, reason):
    text = HEADER + GOOD + row + GOOD.replace("SN-1", "SN-2")
    report = import_contract_register(write(tmp_path, text))
    assert [(e.line, reason in e.reason) for e in report.rejected] == [(3, True)]
    assert Device.select().count() == 2


def test_contract_with_conflicting_terms_is_rejected(dbconn, tmp_path):
    conflicting = GOOD.replace("PW-TAC", "PW-AHR-4H").replace("SN-1", "SN-9")
    report = import_contract_register(write(tmp_path, HEADER + GOOD + conflicting))
    assert len(report.rejected) == 1
    assert "differs from line 2" in report.rejected[0].reason
    assert Contract.get().service_code == "PW-TAC"


def test_cli_prints_summary_and_fails_when_rows_were_rejected(runner, tmp_path):
    result = runner.invoke(args=["import-contracts", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "Contracts  added 3" in result.output
    bad = write(tmp_path, HEADER + GOOD.replace("PW-TAC", "NOPE"))
    result = runner.invoke(args=["import-contracts", str(bad)])
    assert result.exit_code == 1
    assert "register.csv:2: rejected: unknown service code 'NOPE'" in result.output


def test_cli_refuses_a_file_without_the_register_columns(runner, tmp_path):
    path = write(tmp_path, "a;b;c\n1;2;3\n")
    result = runner.invoke(args=["import-contracts", str(path)])
    assert result.exit_code != 0
    assert "missing columns" in result.output


def test_large_file_in_several_batches_is_counted_once_and_synced_again(
    dbconn, tmp_path
):
    # 1,300 rows: whole multi-row INSERT chunks plus single rows, and contracts
    # whose rows straddle the batches of 500.
    lines = [HEADER]
    for i in range(1300):
        contract = f"HZ-2025-{i // 7:06d}"
        nip = ("5260181596", "6281948218", "1860913901")[i // 7 % 3]
        lines.append(
            f"{contract};;{nip};Firma {nip};;;PW-TAC;2025-01-01;"
            f"2027-12-31;sn-{i};X465\n"
        )
    path = write(tmp_path, "".join(lines))
    report = ContractRegisterSync().apply(read_contract_register(path), batch_rows=500)
    assert report.rejected == []
    assert counts() == (3, 186, 1300)
    assert (report.contracts.added, report.contracts.unchanged) == (186, 0)
    assert report.devices.added == 1300
    assert Device.get(Device.serial == "SN-1299").contract.number == "HZ-2025-000185"
    again = ContractRegisterSync().apply(read_contract_register(path), batch_rows=500)
    assert counts() == (3, 186, 1300)
    assert (
        again.companies.unchanged,
        again.contracts.unchanged,
        again.devices.unchanged,
    ) == (3, 186, 1300)
    assert again.contracts.added == again.contracts.updated == 0
