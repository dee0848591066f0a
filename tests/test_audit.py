"""Claims audited against a real anvil chain with the sample inventory.

One chain per module carries a renovation scenario: lots are sold, split, merged,
inspected and installed; owners register honest and dishonest claims; an auditor
decides. Each test recomputes claims from the chain's events and checks the exact
figures and flag codes written below.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from indexer_support import serve_in_subprocess
from rich.progress import Progress
from sqlalchemy import func, select

from ledger.audit.factors import load_factors
from ledger.audit.history import ChainHistory
from ledger.audit.recompute import Auditor
from ledger.audit.render import render_html, render_json, render_pdf
from ledger.audit.service import (
    audit_claim,
    compute_figures,
    decide,
    load_history,
    record_lookup,
)
from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.context import Ledger, open_ledger
from ledger.contracts.artifacts import load_artifact
from ledger.custody import transfer_lot
from ledger.db.engine import open_database
from ledger.db.models import (
    Base,
    Claim,
    ClaimAudit,
    Inspection,
    InspectionRevocation,
    Installation,
    LotDerivation,
    is_modelled,
)
from ledger.errors import InvalidInput, NotFound, TransactionFailed
from ledger.evidence import EvidenceCorrupted, add_evidence, read_evidence
from ledger.importing import import_file
from ledger.indexer.rpc import RpcClient
from ledger.indexer.sync import Indexer, IndexTarget
from ledger.indexing import run_index
from ledger.lifecycle import (
    METHOD_VERSION,
    ClaimFigures,
    ConditionGrade,
    DisposalRoute,
    HazardChecks,
    HazardStatus,
    dispose,
    grant_role,
    install,
    merge,
    record_inspection,
    register_claim,
    revoke_inspection,
    split,
)
from ledger.settings import Settings
from ledger.units import ascii_bytes32

DATA = Path(__file__).resolve().parent.parent / "data" / "wallonia"

# Lot ids of the sample inventory, in file order.
DOORS_LGE = 5  # LGE-005, door_wood, 24 kg per door
DOORS_NAM = 30  # NAM-004, door_wood, 42 kg per door, lead paint suspected
DOORS_OAK = 48  # NAM-022, door_wood, 140 kg per door
BRICKS_NAM = 43  # NAM-017, clay_brick, 2.3 kg per brick
BRICKS_CRL = 50  # CRL-001, clay_brick, 2.3 kg per brick
DOORS_CRL = 60  # CRL-011, door_wood, 320 kg per door
ROOF_TILES_CRL = 61  # CRL-012, clay_roof_tile, 2.9 kg per tile

CONTRACTOR, DEALER, OWNER, BUILDER, INSPECTOR, AUDITOR = 1, 3, 8, 9, 10, 11

ALL_ABSENT = HazardChecks(
    HazardStatus.ABSENT, HazardStatus.ABSENT, HazardStatus.ABSENT, HazardStatus.ABSENT
)


def _quiet() -> Progress:
    return Progress(disable=True)


@dataclass
class Scenario:
    """The chain, the ledger and the ids the scenario created."""

    ledger: Ledger
    data_dir: Path
    doors_children: list[int]
    merged_bricks: int
    honest: int
    inflated: int
    listed_twice: int
    other_claim: int
    elsewhere: int
    revocable: int


def _sender(ledger: Ledger, actor: int):  # type: ignore[no-untyped-def]
    return ledger.sender(dev_account(actor))


def _claim(
    ledger: Ledger,
    building: str,
    lots: list[int],
    reused_g: int,
    total_g: int,
    share_bps: int,
    co2e_g: int,
    document: str,
) -> int:
    figures = ClaimFigures(
        destination_building_id=ascii_bytes32(building),
        lot_ids=lots,
        reused_mass_grams=reused_g,
        total_mass_grams=total_g,
        reuse_share_bps=share_bps,
        co2e_avoided_grams=co2e_g,
        method_version=ascii_bytes32(METHOD_VERSION),
        document_hash=hashlib.sha256(document.encode()).digest(),
    )
    return register_claim(ledger.registry, _sender(ledger, OWNER), figures)


def _inspect(ledger: Ledger, lot_id: int, hazards: HazardChecks, note: str) -> int:
    evidence = add_evidence(ledger.settings.data_dir, note.encode())
    return record_inspection(
        ledger.registry,
        _sender(ledger, INSPECTOR),
        lot_id,
        ConditionGrade.A,
        ascii_bytes32("interior-door"),
        hazards,
        bytes.fromhex(evidence),
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    data_dir = tmp_path_factory.mktemp("audit") / "chain"
    anvil.start(data_dir, chain_id=31337, accounts=12)
    try:
        yield _build_scenario(data_dir)
    finally:
        anvil.stop(data_dir)


def _build_scenario(data_dir: Path) -> Scenario:
    ledger = open_ledger(Settings(data_dir=data_dir), deploy_if_missing=True)
    import_file(ledger, DATA / "inventory.csv", "ACT-001", None, _quiet)
    registry = ledger.registry
    grant_role(registry, ledger.sender(), "inspector", dev_account(INSPECTOR).address)
    grant_role(registry, ledger.sender(), "auditor", dev_account(AUDITOR).address)

    # Doors: contractor -> dealer -> builder, split into two lots, both installed.
    transfer_lot(ledger, DOORS_LGE, "ACT-001", "ACT-003", "118", "sale", "inv-1")
    transfer_lot(ledger, DOORS_LGE, "ACT-003", "ACT-009", "40", "sale", "inv-2")
    children = split(registry, _sender(ledger, BUILDER), DOORS_LGE, [25_000, 15_000])
    reno1 = ascii_bytes32("DST-RENO-01")
    install(registry, _sender(ledger, BUILDER), children[0], 25_000, reno1)
    install(registry, _sender(ledger, BUILDER), children[1], 15_000, reno1)

    # Bricks: 5,000 from Charleroi, and a merged lot of 1,000 from Namur and 1,000
    # from Charleroi.
    transfer_lot(ledger, BRICKS_CRL, "ACT-001", "ACT-009", "5000", "sale", "inv-3")
    merged = merge(
        registry,
        _sender(ledger, CONTRACTOR),
        [BRICKS_NAM, BRICKS_CRL],
        [1_000_000, 1_000_000],
    )
    transfer_lot(ledger, merged, "ACT-001", "ACT-009", "2000", "sale", "inv-4")
    install(registry, _sender(ledger, BUILDER), BRICKS_CRL, 5_000_000, reno1)
    install(registry, _sender(ledger, BUILDER), merged, 2_000_000, reno1)
    for lot_id in (DOORS_LGE, BRICKS_CRL, BRICKS_NAM, DOORS_CRL, DOORS_NAM):
        _inspect(ledger, lot_id, ALL_ABSENT, f"inspection report of lot {lot_id}")

    # Honest: 960 kg doors + 11,500 kg bricks + 4,600 kg merged bricks = 17,060 kg.
    honest = _claim(
        ledger, "DST-RENO-01", children + [BRICKS_CRL, merged],
        17_060_000, 50_000_000, 3_412, 3_796_161, "honest",
    )  # fmt: skip
    decide(ledger, dev_account(AUDITOR), honest, True, "Every figure holds.")

    # Six doors of 320 kg into RENO-02: 1,920 kg and 521,203 g CO2e.
    install(
        registry,
        _sender(ledger, CONTRACTOR),
        DOORS_CRL,
        6_000,
        ascii_bytes32("DST-RENO-02"),
    )
    inflated = _claim(
        ledger, "DST-RENO-02", [DOORS_CRL],
        2_500_000, 10_000_000, 2_500, 600_000, "inflated",
    )  # fmt: skip
    decide(ledger, dev_account(AUDITOR), inflated, False, "Figures above installs.")
    listed_twice = _claim(
        ledger, "DST-RENO-02", [DOORS_CRL, DOORS_CRL],
        3_840_000, 10_000_000, 3_840, 1_042_406, "listed twice",
    )  # fmt: skip
    other_claim = _claim(
        ledger, "DST-RENO-01", [BRICKS_CRL],
        11_500_000, 50_000_000, 2_300, 2_525_400, "other claim",
    )  # fmt: skip
    elsewhere = _claim(
        ledger, "DST-RENO-03", [DOORS_CRL],
        1_920_000, 10_000_000, 1_920, 521_203, "installed elsewhere",
    )  # fmt: skip

    # Ten Namur doors into RENO-04: 420 kg and 114,013 g CO2e; cleared for now.
    install(
        registry,
        _sender(ledger, CONTRACTOR),
        DOORS_NAM,
        10_000,
        ascii_bytes32("DST-RENO-04"),
    )
    revocable = _claim(
        ledger, "DST-RENO-04", [DOORS_NAM],
        420_000, 1_000_000, 4_200, 114_013, "revocable",
    )  # fmt: skip
    run_index(ledger, _quiet)
    return Scenario(
        ledger=ledger,
        data_dir=data_dir,
        doors_children=children,
        merged_bricks=merged,
        honest=honest,
        inflated=inflated,
        listed_twice=listed_twice,
        other_claim=other_claim,
        elsewhere=elsewhere,
        revocable=revocable,
    )


def _codes(scenario: Scenario, claim_id: int) -> list[str]:
    return audit_claim(scenario.ledger, claim_id).flag_codes


# ------------------------------------------------------------------ claims


def test_honest_claim_verified_exactly(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.honest)

    assert result.verified == {
        "reused_mass_grams": 17_060_000,
        "total_mass_grams": 50_000_000,
        "reuse_share_bps": 3_412,
        "co2e_avoided_grams": 3_796_161,
    }
    assert result.claimed == result.verified
    assert result.flag_codes == ["NO_TRANSPORT_DATA"]
    assert result.errors == []
    assert [lot.counted for lot in result.lots] == [True, True, True, True]


def test_honest_claim_approval_on_chain(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.honest)

    assert len(result.decisions) == 1
    assert result.decisions[0]["approved"] is True
    assert result.decisions[0]["auditor"] == dev_account(AUDITOR).address.lower()
    reasons = read_evidence(scenario.data_dir, result.decisions[0]["reasons_hash"])
    assert reasons.decode().endswith("Reason: Every figure holds.\n")


def test_merged_lot_traces_both_origins(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.honest)
    merged = next(lot for lot in result.lots if lot.lot_id == scenario.merged_bricks)

    origins = {part.building_reference: part for part in merged.origins}
    assert set(origins) == {"BLD-NAM-02", "BLD-CRL-03"}
    assert origins["BLD-NAM-02"].root_lot_id == BRICKS_NAM
    assert origins["BLD-CRL-03"].root_lot_id == BRICKS_CRL
    assert origins["BLD-NAM-02"].mass_grams == 2_300_000
    assert origins["BLD-CRL-03"].mass_grams == 2_300_000
    assert origins["BLD-NAM-02"].new_factor is not None
    assert origins["BLD-NAM-02"].new_factor.key == "clay_brick"
    assert origins["BLD-NAM-02"].reuse_factor is not None
    assert origins["BLD-NAM-02"].reuse_factor.key == "reclaimed_clay_brick_processing"
    assert merged.lineage == [BRICKS_NAM, BRICKS_CRL, scenario.merged_bricks]


def test_split_lot_custody_chain(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.honest)
    child = next(lot for lot in result.lots if lot.lot_id == scenario.doors_children[0])

    steps = [(step.lot_id, step.kind, step.quantity) for step in child.custody]
    assert steps == [
        (DOORS_LGE, "registered", 118_000),
        (DOORS_LGE, "transfer", 118_000),
        (DOORS_LGE, "transfer", 40_000),
        (DOORS_LGE, "split", 25_000),
        (DOORS_LGE, "split", 15_000),
        (child.lot_id, "created", 25_000),
        (child.lot_id, "installed", 25_000),
    ]
    assert child.custody[2].to_address == dev_account(BUILDER).address.lower()
    assert child.mass_grams == 600_000
    assert child.origins[0].building_reference == "BLD-LGE-01"


def test_inflated_claim_flagged(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.inflated)

    assert result.verified["reused_mass_grams"] == 1_920_000
    assert result.verified["reuse_share_bps"] == 1_920
    assert result.verified["co2e_avoided_grams"] == 521_203
    assert result.flag_codes == [
        "CLAIM_CO2E_ABOVE_VERIFIED",
        "CLAIM_REUSED_MASS_ABOVE_VERIFIED",
        "CLAIM_SHARE_ABOVE_VERIFIED",
        "NO_TRANSPORT_DATA",
    ]
    assert result.decisions[-1]["approved"] is False


def test_lot_listed_twice_counted_once(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.listed_twice)

    assert result.verified["reused_mass_grams"] == 1_920_000
    assert len(result.lots) == 1
    assert "LOT_LISTED_TWICE" in result.flag_codes
    assert "CLAIM_REUSED_MASS_ABOVE_VERIFIED" in result.flag_codes
    # The earlier claim on this lot was rejected, so it does not count as another claim.
    assert "LOT_IN_OTHER_CLAIM" not in result.flag_codes


def test_lot_in_earlier_claim_not_counted(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.other_claim)

    assert result.verified["reused_mass_grams"] == 0
    assert result.lots[0].counted is False
    lot_flags = [flag for flag in result.flags if flag.code == "LOT_IN_OTHER_CLAIM"]
    assert len(lot_flags) == 1
    assert lot_flags[0].lot_id == BRICKS_CRL
    assert f"claim {scenario.honest}" in lot_flags[0].message


def test_later_approved_claim_blocks_earlier(scenario: Scenario) -> None:
    ledger = scenario.ledger
    reno6 = ascii_bytes32("DST-RENO-06")
    reno7 = ascii_bytes32("DST-RENO-07")
    # One oak door of 140 kg into each of two buildings.
    install(ledger.registry, _sender(ledger, CONTRACTOR), DOORS_OAK, 1_000, reno6)
    install(ledger.registry, _sender(ledger, CONTRACTOR), DOORS_OAK, 1_000, reno7)
    _inspect(ledger, DOORS_OAK, ALL_ABSENT, "oak doors inspection")
    figures = compute_figures(
        ledger,
        reno6,
        [DOORS_OAK],
        1_000_000,
        ascii_bytes32(METHOD_VERSION),
        hashlib.sha256(b"oak door claim").digest(),
    )
    assert figures.reused_mass_grams == 140_000
    first = register_claim(ledger.registry, _sender(ledger, OWNER), figures)
    second = register_claim(ledger.registry, _sender(ledger, OWNER), figures)

    # The first claim is pending, so the second may not count the same door.
    assert _codes(scenario, second) == [
        "CLAIM_CO2E_ABOVE_VERIFIED",
        "CLAIM_REUSED_MASS_ABOVE_VERIFIED",
        "CLAIM_SHARE_ABOVE_VERIFIED",
        "LOT_IN_OTHER_CLAIM",
        "NO_TRANSPORT_DATA",
    ]

    decide(ledger, dev_account(AUDITOR), first, False, "Resubmitted as a new claim.")
    assert _codes(scenario, second) == ["NO_TRANSPORT_DATA"]
    decide(ledger, dev_account(AUDITOR), second, True, "Every figure holds.")

    first_result = audit_claim(ledger, first)
    assert first_result.flag_codes == [
        "CLAIM_CO2E_ABOVE_VERIFIED",
        "CLAIM_REUSED_MASS_ABOVE_VERIFIED",
        "CLAIM_SHARE_ABOVE_VERIFIED",
        "LOT_IN_OTHER_CLAIM",
        "NO_TRANSPORT_DATA",
    ]
    assert first_result.verified["reused_mass_grams"] == 0
    assert first_result.lots[0].counted is False
    flag = next(
        flag for flag in first_result.flags if flag.code == "LOT_IN_OTHER_CLAIM"
    )
    assert flag.severity == "error"
    assert flag.lot_id == DOORS_OAK
    assert f"claim {second} (approved)" in flag.message
    with pytest.raises(InvalidInput, match="LOT_IN_OTHER_CLAIM"):
        decide(ledger, dev_account(AUDITOR), first, True, "Approve again.")
    assert audit_claim(ledger, first).decisions[-1]["approved"] is False

    # An approved claim blocks the lot on every building, not only its own.
    other_building = register_claim(
        ledger.registry,
        _sender(ledger, OWNER),
        replace(figures, destination_building_id=reno7),
    )
    assert _codes(scenario, other_building) == [
        "CLAIM_CO2E_ABOVE_VERIFIED",
        "CLAIM_REUSED_MASS_ABOVE_VERIFIED",
        "CLAIM_SHARE_ABOVE_VERIFIED",
        "LOT_IN_OTHER_CLAIM",
        "NO_TRANSPORT_DATA",
    ]


def test_lot_installed_elsewhere_flagged(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.elsewhere)

    assert result.verified["reused_mass_grams"] == 0
    assert result.flag_codes == [
        "CLAIM_CO2E_ABOVE_VERIFIED",
        "CLAIM_REUSED_MASS_ABOVE_VERIFIED",
        "CLAIM_SHARE_ABOVE_VERIFIED",
        "LOT_INSTALLED_ELSEWHERE",
        "NO_TRANSPORT_DATA",
    ]
    flag = next(flag for flag in result.flags if flag.code == "LOT_INSTALLED_ELSEWHERE")
    assert "DST-RENO-02" in flag.message


def test_approval_rejected_with_flags(scenario: Scenario) -> None:
    with pytest.raises(InvalidInput, match="LOT_INSTALLED_ELSEWHERE"):
        decide(scenario.ledger, dev_account(AUDITOR), scenario.elsewhere, True, "ok")


def test_unknown_claim_not_found(scenario: Scenario) -> None:
    with pytest.raises(NotFound, match="Claim 99"):
        audit_claim(scenario.ledger, 99)


def test_computed_figures_match_audit(scenario: Scenario) -> None:
    figures = compute_figures(
        scenario.ledger,
        ascii_bytes32("DST-RENO-01"),
        scenario.doors_children + [BRICKS_CRL, scenario.merged_bricks],
        50_000_000,
        ascii_bytes32(METHOD_VERSION),
        bytes(32),
    )

    assert figures.reused_mass_grams == 17_060_000
    assert figures.reuse_share_bps == 3_412
    assert figures.co2e_avoided_grams == 3_796_161


def test_own_factor_file_changes_co2e(scenario: Scenario, tmp_path: Path) -> None:
    factors = tmp_path / "epd.csv"
    factors.write_text(
        "material,factor_kgco2e_per_kg,factor_type,source,source_entry\n"
        "door_wood,0.5,new_product,Door maker EPD 2025,oak door\n"
        "door_wood,0.1,reuse_process,Reuse workshop EPD 2025,refurbishing\n"
    )

    result = audit_claim(scenario.ledger, scenario.inflated, factors)

    # 1,920 kg x (0.5 - 0.1) kg CO2e/kg = 768 kg.
    assert result.verified["co2e_avoided_grams"] == 768_000
    part = result.lots[0].origins[0]
    assert part.new_factor is not None
    assert part.new_factor.source == "Door maker EPD 2025"


def test_invalid_factor_file_named(tmp_path: Path) -> None:
    factors = tmp_path / "bad.csv"
    factors.write_text(
        "material,factor_kgco2e_per_kg,factor_type,source\ndoor_wood,abc,new_product,x\n"
    )

    with pytest.raises(InvalidInput, match="line 2: factor 'abc'"):
        load_factors(factors)


def test_recycled_lot_not_reuse(scenario: Scenario) -> None:
    ledger = scenario.ledger
    dispose(
        ledger.registry,
        _sender(ledger, CONTRACTOR),
        ROOF_TILES_CRL,
        500_000,
        DisposalRoute.RECYCLING,
    )
    _inspect(ledger, ROOF_TILES_CRL, ALL_ABSENT, "roof tiles inspection")
    claim_id = _claim(
        ledger, "DST-RENO-05", [ROOF_TILES_CRL],
        1_450_000, 10_000_000, 1_450, 0, "recycled tiles",
    )  # fmt: skip

    result = audit_claim(ledger, claim_id)

    assert result.verified["reused_mass_grams"] == 0
    assert result.flag_codes == [
        "CLAIM_REUSED_MASS_ABOVE_VERIFIED",
        "CLAIM_SHARE_ABOVE_VERIFIED",
        "LOT_NOT_INSTALLED",
        "NO_REUSE_FOOTPRINT",
        "NO_TRANSPORT_DATA",
    ]
    assert result.lots[0].custody[-1].kind == "disposed"
    assert result.lots[0].custody[-1].detail == "recycling"


def test_install_above_balance_names_values(scenario: Scenario) -> None:
    ledger = scenario.ledger
    builder = dev_account(BUILDER).address.lower()

    with pytest.raises(TransactionFailed) as raised:
        install(
            ledger.registry,
            _sender(ledger, BUILDER),
            DOORS_CRL,
            1_000,
            ascii_bytes32("DST-RENO-02"),
        )

    message = str(raised.value)
    assert "install would revert" in message
    assert "ERC1155InsufficientBalance" in message
    assert f"sender={builder}" in message
    assert "balance=0, needed=1000, tokenId=60" in message


# ------------------------------------------------------------- inspections


def test_revoked_clearance_flagged(scenario: Scenario) -> None:
    ledger = scenario.ledger
    assert audit_claim(ledger, scenario.revocable).errors == []
    inspection = next(
        item
        for item in load_history(ledger)[0].inspections.values()
        if item.lot_id == DOORS_NAM
    )

    reason = add_evidence(scenario.data_dir, b"Lead paint found on a door edge.")
    revoke_inspection(
        ledger.registry,
        _sender(ledger, INSPECTOR),
        inspection.inspection_id,
        bytes.fromhex(reason),
    )
    revoked = audit_claim(ledger, scenario.revocable)

    assert revoked.flag_codes == [
        "INSPECTION_REVOKED",
        "LOT_NOT_INSPECTED",
        "NO_TRANSPORT_DATA",
    ]
    flag = next(flag for flag in revoked.flags if flag.code == "INSPECTION_REVOKED")
    assert flag.severity == "error"
    assert reason in flag.message

    lead = HazardChecks(
        HazardStatus.ABSENT,
        HazardStatus.PRESENT,
        HazardStatus.ABSENT,
        HazardStatus.ABSENT,
    )
    _inspect(ledger, DOORS_NAM, lead, "second inspection: lead paint present")
    assert _codes(scenario, scenario.revocable) == [
        "HAZARD_NOT_CLEARED",
        "INSPECTION_REVOKED",
        "NO_TRANSPORT_DATA",
    ]


# ----------------------------------------------------------- chain replay


def test_replayed_balances_match_chain(scenario: Scenario) -> None:
    history, _head = load_history(scenario.ledger)
    registry = scenario.ledger.registry

    assert history.gaps == []
    for (lot_id, holder), balance in history._balances.items():
        assert balance >= 0
        on_chain = registry.functions.balanceOf(
            registry.w3.to_checksum_address(holder), lot_id
        ).call()
        assert balance == on_chain, (lot_id, holder)


def test_missing_receipt_is_custody_gap(scenario: Scenario) -> None:
    # A scripted fault: the registry cannot produce a gap, so one received transfer
    # is dropped from the real event list before the replay.
    from ledger.audit.history import read_registry_events

    ledger = scenario.ledger
    events, head = read_registry_events(
        ledger.w3,
        ledger.deployment.address,
        load_artifact()["abi"],
        ledger.deployment.block_number,
    )
    dealer = dev_account(DEALER).address.lower()
    dropped = [
        event
        for event in events
        if not (
            event.name == "CustodyTransferred"
            and event.args["lotId"] == DOORS_LGE
            and event.args["to"] == dealer
        )
    ]
    assert len(dropped) == len(events) - 1
    history = ChainHistory.replay(dropped)

    assert [(gap.lot_id, gap.holder, gap.missing) for gap in history.gaps] == [
        (DOORS_LGE, dealer, 40_000)
    ]
    auditor = Auditor(
        history, ledger.registry, load_factors(), record_lookup(ledger.engine)
    )
    result = auditor.audit(scenario.honest, ledger.deployment.chain_id, head)
    gap_lots = sorted(
        flag.lot_id for flag in result.flags if flag.code == "CUSTODY_GAP"
    )
    assert gap_lots == scenario.doors_children


def test_claim_with_too_large_share_rejected(scenario: Scenario) -> None:
    figures = ClaimFigures(
        destination_building_id=ascii_bytes32("DST-RENO-09"),
        lot_ids=[DOORS_CRL],
        reused_mass_grams=2,
        total_mass_grams=1,
        reuse_share_bps=20_000,
        co2e_avoided_grams=0,
        method_version=ascii_bytes32(METHOD_VERSION),
        document_hash=bytes(32),
    )

    with pytest.raises(InvalidInput, match="above the total mass"):
        register_claim(scenario.ledger.registry, scenario.ledger.sender(), figures)
    with pytest.raises(InvalidInput, match="20000 basis points"):
        replace(figures, reused_mass_grams=1).check()


# ---------------------------------------------------------------- reports


def test_reports_name_factors_and_sources(scenario: Scenario) -> None:
    result = audit_claim(scenario.ledger, scenario.honest)

    text = render_json(result)
    html = render_html(result)
    pdf = render_pdf(result)

    assert '"reuse_share_bps": 3412' in text
    assert "ICE v2.0" in text
    assert "no SQL mirror" in text
    assert "BLD-CRL-03" in html
    assert "reclaimed_clay_brick_processing 0.0204 kg CO2e/kg" in html
    assert pdf.startswith(b"%PDF-")


# ------------------------------------------------------------------ mirror


@pytest.mark.postgres
def test_mirror_rows_from_events(scenario: Scenario, database_url: str) -> None:
    ledger = scenario.ledger
    engine = open_database(database_url)
    indexer = Indexer(
        RpcClient(ledger.url),
        engine,
        IndexTarget(ledger.deployment.address, ledger.deployment.block_number),
        load_artifact()["abi"],
    )
    indexer.prepare()
    indexer.run_to_head()
    history, _ = load_history(ledger)

    with engine.connect() as connection:

        def count(model: type) -> int:
            return int(
                connection.execute(select(func.count()).select_from(model)).scalar_one()
            )

        assert count(Installation) == len(history.installations)
        assert count(Claim) == len(history.claims)
        assert count(Inspection) == len(history.inspections)
        assert count(InspectionRevocation) == sum(
            1 for item in history.inspections.values() if item.revoked
        )
        assert count(ClaimAudit) == sum(
            len(items) for items in history.decisions.values()
        )
        assert count(LotDerivation) == 2
        approved = connection.execute(
            select(ClaimAudit.approved).where(ClaimAudit.claim_id == scenario.honest)
        ).scalar_one()
    assert approved is True
    engine.dispose()


def test_models_match_migrations(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = open_database(f"sqlite:///{tmp_path / 'schema.sqlite3'}")
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": is_modelled}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    engine.dispose()


# ---------------------------------------------------------------- evidence


def test_evidence_round_trip(tmp_path: Path) -> None:
    digest = add_evidence(tmp_path, b"inspection report")

    assert digest == hashlib.sha256(b"inspection report").hexdigest()
    assert read_evidence(tmp_path, "0x" + digest) == b"inspection report"
    assert add_evidence(tmp_path, b"inspection report") == digest


def test_evidence_changed_on_disk(tmp_path: Path) -> None:
    digest = add_evidence(tmp_path, b"original")
    (tmp_path / "evidence" / digest).write_bytes(b"tampered")

    with pytest.raises(EvidenceCorrupted, match="changed on disk"):
        read_evidence(tmp_path, digest)


def test_evidence_invalid_hash(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a sha256 hash"):
        read_evidence(tmp_path, "../../etc/passwd")
    with pytest.raises(NotFound, match="No evidence document"):
        read_evidence(tmp_path, "ab" * 32)


# --------------------------------------------------------------- API, CLI


@pytest.fixture(scope="module")
def service(scenario: Scenario) -> Iterator[str]:
    with serve_in_subprocess(scenario.data_dir) as url:
        yield url


def test_api_claim_and_reports(scenario: Scenario, service: str) -> None:
    claim = httpx.get(f"{service}/claims/{scenario.honest}", timeout=30)
    report = httpx.get(f"{service}/claims/{scenario.honest}/report.json", timeout=60)
    html = httpx.get(f"{service}/claims/{scenario.honest}/report.html", timeout=60)
    pdf = httpx.get(f"{service}/claims/{scenario.honest}/report.pdf", timeout=60)
    unknown = httpx.get(f"{service}/claims/99", timeout=30)

    assert claim.status_code == 200
    assert claim.json()["status"] == "approved"
    assert claim.json()["reuse_share_bps"] == 3_412
    assert report.status_code == 200
    assert report.json()["verified"]["co2e_avoided_grams"] == 3_796_161
    assert html.headers["content-type"].startswith("text/html")
    assert pdf.content.startswith(b"%PDF-")
    assert unknown.status_code == 404


def test_api_inspections_of_lot(scenario: Scenario, service: str) -> None:
    response = httpx.get(f"{service}/lots/{DOORS_LGE}/inspections", timeout=30)

    assert response.status_code == 200
    (inspection,) = response.json()["inspections"]
    assert inspection["hazards"]["asbestos"] == "absent"
    assert inspection["inspector"] == dev_account(INSPECTOR).address
    assert inspection["revocation"] is None


def test_api_evidence_checks_hash(scenario: Scenario, service: str) -> None:
    from ledger.context import open_engine
    from ledger.organisations import add_organisation, create_api_key

    settings = Settings(data_dir=scenario.data_dir, keystore_scrypt_n=2**10)
    engine = open_engine(settings)
    inspector = add_organisation(settings, engine, "Labo Test", "inspector")
    key = create_api_key(engine, inspector.actor_id)
    added = httpx.post(
        f"{service}/evidence",
        content=b"delivery note 17",
        headers={"X-API-Key": key},
        timeout=30,
    )
    digest = added.json()["sha256"]
    fetched = httpx.get(f"{service}/evidence/{digest}", timeout=30)
    missing = httpx.get(f"{service}/evidence/{'cd' * 32}", timeout=30)
    invalid = httpx.get(f"{service}/evidence/not-a-hash", timeout=30)
    (scenario.data_dir / "evidence" / digest).write_bytes(b"delivery note 71")
    changed = httpx.get(f"{service}/evidence/{digest}", timeout=30)

    assert added.status_code == 201
    assert fetched.content == b"delivery note 17"
    assert missing.status_code == 404
    assert invalid.status_code == 422
    assert changed.status_code == 409
    assert "changed on disk" in changed.json()["detail"]


def test_api_evidence_over_limit(scenario: Scenario, service: str) -> None:
    from api.audit import MAX_EVIDENCE_BYTES
    from ledger.context import open_engine
    from ledger.organisations import add_organisation, create_api_key

    settings = Settings(data_dir=scenario.data_dir, keystore_scrypt_n=2**10)
    engine = open_engine(settings)
    inspector = add_organisation(settings, engine, "Labo Limite", "inspector")
    headers = {"X-API-Key": create_api_key(engine, inspector.actor_id)}
    body = b"x" * (MAX_EVIDENCE_BYTES + 1)

    def chunks() -> Iterator[bytes]:
        step = 1024 * 1024
        for start in range(0, len(body), step):
            yield body[start : start + step]

    declared = httpx.post(
        f"{service}/evidence", content=body, headers=headers, timeout=60
    )
    streamed = httpx.post(
        f"{service}/evidence", content=chunks(), headers=headers, timeout=60
    )

    assert declared.status_code == 413, declared.text
    assert str(MAX_EVIDENCE_BYTES + 1) in declared.json()["detail"]
    assert "Send a smaller document" in declared.json()["detail"]
    assert streamed.status_code == 413, streamed.text
    assert "more than" in streamed.json()["detail"]
    stored = (scenario.data_dir / "evidence").iterdir()
    assert all(path.stat().st_size <= MAX_EVIDENCE_BYTES for path in stored)


def test_evidence_body_read_stops_at_limit() -> None:
    """The body is read chunk by chunk and reading stops past the limit."""
    import asyncio

    from fastapi import HTTPException
    from starlette.requests import Request

    from api.audit import MAX_EVIDENCE_BYTES, _read_limited_body

    chunk = b"x" * (1024 * 1024)
    total_chunks = 300
    received: list[int] = []

    async def receive() -> dict[str, object]:
        received.append(1)
        return {
            "type": "http.request",
            "body": chunk,
            "more_body": len(received) < total_chunks,
        }

    def request(headers: list[tuple[bytes, bytes]]) -> Request:
        scope = {"type": "http", "method": "POST", "headers": headers}
        return Request(scope, receive)

    with pytest.raises(HTTPException) as streamed:
        asyncio.run(_read_limited_body(request([])))
    chunks_read = len(received)
    received.clear()
    with pytest.raises(HTTPException) as declared:
        asyncio.run(_read_limited_body(request([(b"content-length", b"314572800")])))

    assert streamed.value.status_code == 413
    assert chunks_read == MAX_EVIDENCE_BYTES // len(chunk) + 1
    assert declared.value.status_code == 413
    assert "314572800" in str(declared.value.detail)
    assert received == []


def test_cli_audit_writes_reports(scenario: Scenario, tmp_path: Path) -> None:
    env = {**os.environ, "RECLAIM_DATA_DIR": str(scenario.data_dir)}
    result = subprocess.run(
        [
            sys.executable, "-m", "ledger", "audit", str(scenario.honest),
            "--json", str(tmp_path / "r.json"), "--pdf", str(tmp_path / "r.pdf"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "verified 34.12 %" in result.stdout
    assert (tmp_path / "r.json").read_text().count('"code": "NO_TRANSPORT_DATA"') == 4
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")


def test_fast_decoder_matches_eth_abi_on_every_event(scenario: Scenario) -> None:
    from ledger.contracts.artifacts import load_artifact
    from ledger.indexer.decode import EventDecoder
    from ledger.indexer.rpc import RpcClient

    ledger = scenario.ledger
    logs = RpcClient(ledger.url).get_logs(
        ledger.deployment.address, 0, ledger.w3.eth.block_number
    )
    decoder = EventDecoder(load_artifact()["abi"])
    names = set()
    for log in logs:
        fast = decoder.decode(log)
        assert fast == decoder.decode_with_eth_abi(log)
        names.add(fast.name)
    # The scenario's set-up emits these; disposals and revocations come from later
    # tests, and their one-word fields take the same path as LotInstalled's.
    assert names >= {
        "BuildingRegistered", "LotBatchRegistered", "LotRevealed", "LotRegistered",
        "CustodyTransferred", "TransferSingle", "TransferBatch", "LotInstalled",
        "LotSplit", "LotsMerged", "InspectionRecorded", "ClaimRegistered",
        "ClaimAudited", "RoleGranted",
    }  # fmt: skip
