"""End to end on a real anvil: register, transfer, index into SQLite, read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3.exceptions import Web3RPCError

from ledger.chain import anvil
from ledger.chain.accounts import dev_account
from ledger.chain.connection import connect
from ledger.chain.transactions import (
    TransactionSender,
    encode_call,
    wait_for_receipts,
)
from ledger.contracts.artifacts import load_artifact
from ledger.contracts.compile import compile_contracts
from ledger.contracts.deployment import Deployment, registry_contract
from ledger.db.engine import open_database
from ledger.errors import InvalidInput, TransactionFailed
from ledger.indexer.rpc import RpcClient
from ledger.indexer.sync import Indexer, IndexTarget
from ledger.queries import lot_history, search_lots
from ledger.units import ascii_bytes32
from ledger.writes import (
    CustodyReason,
    LotInput,
    pack_entries,
    register_buildings,
    register_lots,
    transfer_custody,
)

BUILDING = ascii_bytes32("BLD-TEST-01")


def _lots(count: int) -> list[LotInput]:
    return [
        LotInput(
            BUILDING,
            ascii_bytes32("flooring"),
            1,
            1000 * (i + 1),
            12_500,
            bytes([i + 1]) * 32,
        )
        for i in range(count)
    ]


def test_artifacts_match_sources() -> None:
    committed = load_artifact()
    fresh = compile_contracts()["ReclaimRegistry"]
    assert fresh["sourceHash"] == committed["sourceHash"]
    assert fresh["abi"] == committed["abi"]
    assert fresh["bytecode"] == committed["bytecode"]


def test_register_transfer_and_index(
    deployed: tuple[TransactionSender, Deployment], database_url: str
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    yard = dev_account(1)
    buyer = dev_account(2)

    register_buildings(registry, sender, [(BUILDING, b"\x01" * 32)])
    batches = register_lots(registry, sender, yard.address, _lots(120), batch_size=50)
    assert [batch.lot_ids for batch in batches] == [
        range(1, 51),
        range(51, 101),
        range(101, 121),
    ]
    yard_sender = TransactionSender(sender.w3, yard)
    transfer_custody(registry, yard_sender, buyer.address, 3, 1200, CustodyReason.SALE)

    engine = open_database(database_url)
    indexer = Indexer(
        RpcClient(sender.w3.provider.endpoint_uri),  # type: ignore[attr-defined]
        engine,
        IndexTarget(deployment.address, deployment.block_number),
        load_artifact()["abi"],
        log_range=3,
    )
    last = indexer.run_to_head()

    assert last == sender.w3.eth.block_number
    total, page = search_lots(engine, category="flooring", limit=500)
    assert total == 120
    assert page[2].quantity == 3000
    history = lot_history(engine, 3)
    assert history.lot.holders == {
        yard.address.lower(): 1800,
        buyer.address.lower(): 1200,
    }
    assert len(history.steps) == 1
    assert history.steps[0].reason is CustodyReason.SALE
    assert history.steps[0].quantity == 1200
    assert indexer.run_to_head() == last
    engine.dispose()


def test_uint256_extremes_round_trip(database_url: str) -> None:
    from sqlalchemy import insert, select

    from ledger.db.models import Holding

    engine = open_database(database_url)
    values = [2**63, 2**256 - 1]
    with engine.begin() as connection:
        for value in values:
            connection.execute(
                insert(Holding).values(
                    lot_id=value, holder="0x" + "1" * 40, balance=value
                )
            )
    with engine.connect() as connection:
        rows = connection.execute(select(Holding.lot_id, Holding.balance)).all()
    engine.dispose()

    assert sorted(rows) == [(value, value) for value in values]


def test_unknown_lot_transfer_names_error(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)

    with pytest.raises(
        TransactionFailed, match=r"ReclaimRegistryUnknownLot\(lotId=7\)"
    ):
        transfer_custody(
            registry, sender, dev_account(1).address, 7, 1, CustodyReason.SALE
        )


def test_chain_state_survives_restart(
    chain: tuple[Path, str], deployed: tuple[TransactionSender, Deployment]
) -> None:
    data_dir, _ = chain
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    register_buildings(registry, sender, [(BUILDING, b"\x02" * 32)])
    block = sender.w3.eth.block_number

    anvil.stop(data_dir)
    info = anvil.start(data_dir, chain_id=31337, accounts=5)
    w3 = connect(info.rpc_url)

    assert w3.eth.block_number == block
    restarted = registry_contract(w3, deployment.address)
    assert restarted.functions.buildingRecordHash(BUILDING).call() == b"\x02" * 32


def test_register_lots_first_batch_would_revert(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    nonce = sender.w3.eth.get_transaction_count(sender.address)

    expected = r"registerLots would revert: ReclaimRegistryUnknownBuilding\(buildingId="
    with pytest.raises(TransactionFailed, match=expected):
        register_lots(registry, sender, dev_account(1).address, _lots(4), batch_size=2)

    assert sender.w3.eth.get_transaction_count(sender.address) == nonce


def test_register_lots_later_batch_revert_decoded(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    register_buildings(registry, sender, [(BUILDING, b"\x02" * 32)])
    unknown = ascii_bytes32("BLD-UNKNOWN")
    lots = _lots(3) + [
        LotInput(unknown, ascii_bytes32("flooring"), 1, 1000, 12_500, b"\x09" * 32)
    ]

    # Only the largest batch (the first here) is estimated, so the second one
    # reverts on chain.
    with pytest.raises(TransactionFailed) as failure:
        register_lots(registry, sender, dev_account(1).address, lots, batch_size=3)

    message = str(failure.value)
    assert "registerLots of 1 lots reverted in block" in message
    assert f"ReclaimRegistryUnknownBuilding(buildingId=0x{unknown.hex()})" in message
    assert "The 3 lots before this batch are registered." in message
    assert registry.functions.lotCount().call() == 3


def test_register_lots_groups_by_building(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    other = ascii_bytes32("BLD-TEST-02")
    register_buildings(
        registry, sender, [(BUILDING, b"\x02" * 32), (other, b"\x03" * 32)]
    )
    first, second = _lots(2)
    elsewhere = LotInput(other, ascii_bytes32("beams"), 2, 5000, 40_000, b"\x0a" * 32)

    batches = register_lots(
        registry, sender, dev_account(1).address, [first, elsewhere, second]
    )

    assert [(batch.building_id, batch.lot_ids) for batch in batches] == [
        (BUILDING, range(1, 3)),
        (other, range(3, 4)),
    ]
    # Lot 2 is the third lot given, the second of the first building.
    assert (
        registry.functions.verifyLot(2, BUILDING, pack_entries([first, second])).call()[
            2
        ]
        == second.record_hash
    )


def test_register_lots_rejects_uint64_overflow(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    register_buildings(registry, sender, [(BUILDING, b"\x02" * 32)])
    nonce = sender.w3.eth.get_transaction_count(sender.address)
    too_heavy = LotInput(BUILDING, ascii_bytes32("beams"), 2, 5000, 2**64, b"\x0b" * 32)

    with pytest.raises(InvalidInput) as failure:
        register_lots(registry, sender, dev_account(1).address, [*_lots(2), too_heavy])

    message = str(failure.value)
    assert message.startswith(f"Lot 3 of 3 (record hash 0x{'0b' * 32}): ")
    assert f"The unit mass in grams is {2**64}, outside the range 0 to" in message
    assert "split the lot into smaller lots or correct the value" in message
    assert sender.w3.eth.get_transaction_count(sender.address) == nonce


def test_register_lots_rejects_batch_over_256(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)

    with pytest.raises(InvalidInput, match=r"Batch size 257 must be from 1 to 256"):
        register_lots(
            registry, sender, dev_account(1).address, _lots(3), batch_size=257
        )


def test_encode_call_matches_web3(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    calls = [
        registry.functions.registerLots(
            dev_account(1).address, BUILDING, pack_entries(_lots(3))
        ),
        registry.functions.transferCustody(
            sender.address, dev_account(1).address, 1, 1000, 1, bytes(32)
        ),
    ]

    for call in calls:
        expected = bytes.fromhex(call._encode_transaction_data()[2:])
        assert encode_call(call) == expected


def test_send_falls_back_to_web3_encoding(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    # eth-abi rejects a hex string for bytes32, which web3 accepts.
    call = registry.functions.registerBuildings([BUILDING], ["0x" + "03" * 32])

    assert encode_call(call) is None
    sender.transact([call])
    assert registry.functions.buildingRecordHash(BUILDING).call() == b"\x03" * 32


def test_embedded_chain_automines_each_write(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)

    assert sender.w3.provider.make_request("anvil_getAutomine", [])["result"] is True
    (receipt,) = sender.transact(
        [registry.functions.registerBuildings([BUILDING], [b"\x02" * 32])]
    )
    assert receipt["blockNumber"] == sender.w3.eth.block_number


def test_state_history_limits_past_calls(tmp_path: Path) -> None:
    data_dir = tmp_path / "chain"
    info = anvil.start(data_dir, chain_id=31337, accounts=2, state_history=4)
    try:
        w3 = connect(info.rpc_url)
        w3.provider.make_request("anvil_mine", [hex(10)])
        head = w3.eth.block_number
        address = dev_account(0).address

        assert w3.eth.get_balance(address, head - 2) > 0
        with pytest.raises(Web3RPCError, match="BlockOutOfRange"):
            w3.eth.get_balance(address, head - 8)
    finally:
        anvil.stop(data_dir)


def test_logs_survive_restart(
    chain: tuple[Path, str], deployed: tuple[TransactionSender, Deployment]
) -> None:
    data_dir, _ = chain
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    register_buildings(registry, sender, [(BUILDING, b"\x02" * 32)])
    register_lots(registry, sender, dev_account(1).address, _lots(5), batch_size=2)
    query = {"address": deployment.address, "fromBlock": 0, "toBlock": "latest"}
    logs = sender.w3.eth.get_logs(query)

    anvil.stop(data_dir)
    info = anvil.start(data_dir, chain_id=31337, accounts=5)
    restarted = connect(info.rpc_url)

    assert len(logs) > 5
    assert restarted.eth.get_logs(query) == logs
    assert (
        registry_contract(restarted, deployment.address).functions.lotCount().call()
        == 5
    )


def test_receipts_wait_mines_stalled_anvil(
    deployed: tuple[TransactionSender, Deployment],
) -> None:
    sender, deployment = deployed
    registry = registry_contract(sender.w3, deployment.address)
    # With automine off, nothing mines the transaction unless wait_for_receipts does,
    # as it must when anvil's automine leaves a transaction in the pool.
    sender.w3.provider.make_request("evm_setAutomine", [False])
    try:
        tx_hash = sender.send(
            registry.functions.registerBuildings([BUILDING], [b"\x02" * 32])
        )
        (receipt,) = wait_for_receipts(sender.w3, [tx_hash], timeout=60)
    finally:
        sender.w3.provider.make_request("evm_setAutomine", [True])

    assert receipt["status"] == 1
    assert registry.functions.buildingRecordHash(BUILDING).call() == b"\x02" * 32
