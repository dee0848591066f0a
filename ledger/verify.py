"""Proof that the mirror equals the chain, read at the mirror's checkpoint block.

Three checks, each against the node's state at the checkpoint block:

- every lot's record and the lot count, and every building's record hash. A lot made
  by a split or merge is read with ``lot(id)``. A lot of a batch registration is read
  from its ``LotBatchRegistered`` log, found through ``lotBatch(id)``, whose entries
  ``verifyLot`` must accept against the registry's stored commitment;
- every balance stored in the mirror, and the balance of every address that ever
  received a lot, in ``balanceOfBatch`` calls, so a holding missing from the mirror
  shows up as well;
- the registry's logs in each block range, from ``eth_getLogs``: their number against
  the raw events and the rows derived from them, and each log's content against its
  raw event and its derived row, field by field (a changed transfer, installation or
  inspection row shows up even when balances agree).
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from sqlalchemy import Engine, func, select

from ledger.contracts.artifacts import load_artifact
from ledger.db.models import Building, Holding, Lot, RawEvent
from ledger.errors import ChainError, IndexerError
from ledger.indexer.decode import EventDecoder, UndecodableLog
from ledger.indexer.rpc import LogRangeTooLarge, RpcClient, RpcError
from ledger.indexer.store import (
    BATCH_ROW_EVENTS,
    ROW_EVENTS,
    derived_rows,
    read_checkpoint,
    row_origin,
)
from ledger.lot_entries import LOT_BATCH_REGISTERED_TOPIC, BatchLog, parse_batch_log
from ledger.units import ascii_bytes32

CALLS_PER_REQUEST = 200
BALANCES_PER_CALL = 500
LOT_TYPES = "(bytes32,bytes32,bytes32,uint256,uint256,uint8)"
# Rows of these tables are identified by their lot id as well as their event's
# position, because one batch registration makes many of them.
_MULTI_ROW_TABLES = {model.__tablename__ for model, _ in BATCH_ROW_EVENTS.values()}


@dataclass(frozen=True)
class Difference:
    """One disagreement between the mirror and the chain."""

    check: str
    subject: str
    mirror: str
    chain: str

    def __str__(self) -> str:
        return f"{self.check} {self.subject}: mirror {self.mirror}, chain {self.chain}"


@dataclass
class VerifyReport:
    """Counts of what ``verify`` compared, and every difference it found."""

    block_number: int
    block_hash: str | None
    # The node's newest block when the check ran; above block_number, the mirror lags.
    chain_head: int | None = None
    lots: int = 0
    buildings: int = 0
    balances: int = 0
    ranges: int = 0
    events: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the mirror and the chain agree on everything checked."""
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready values (integers as decimal strings)."""
        data = asdict(self)
        data["ok"] = self.ok
        for key in (
            "block_number",
            "lots",
            "buildings",
            "balances",
            "ranges",
            "events",
        ):
            data[key] = str(data[key])
        return data


def verify_mirror(
    engine: Engine,
    rpc: RpcClient,
    registry: str | None = None,
    log_range: int = 2_000,
    progress: Callable[[str], None] = lambda _message: None,
) -> VerifyReport:
    """Compare the mirror in ``engine`` with its registry on the node.

    ``registry`` defaults to the address the mirror follows; when given, it must match.
    """
    with engine.connect() as connection:
        checkpoint = read_checkpoint(connection)
    if checkpoint is None or checkpoint.last_block_hash is None:
        raise IndexerError("The mirror is empty; run 'reclaim index' before verifying.")
    registry = registry or checkpoint.contract_address
    if checkpoint.contract_address != registry.lower():
        raise IndexerError(
            f"The mirror follows the registry at {checkpoint.contract_address}, not "
            f"{registry}; verify with the settings it was built with."
        )
    block = checkpoint.last_block
    report = VerifyReport(
        block_number=block,
        block_hash=checkpoint.last_block_hash,
        chain_head=rpc.block_number(),
    )
    (header,) = rpc.headers_or_none([block])
    if header is None or str(header["hash"]).lower() != checkpoint.last_block_hash:
        report.differences.append(
            Difference(
                "checkpoint",
                f"block {block}",
                str(checkpoint.last_block_hash),
                str(header["hash"]).lower() if header else "missing",
            )
        )
        return report

    caller = _Caller(rpc, registry, block)
    progress("lots and buildings")
    batches = _BatchLogs(rpc, registry, checkpoint.start_block, block, log_range)
    _check_records(engine, caller, batches, report)
    progress("balances")
    _check_balances(engine, caller, report)
    progress("event counts")
    _check_event_counts(
        engine, rpc, registry, checkpoint.start_block, block, log_range, report
    )
    return report


class _Caller:
    """Batched ``eth_call`` to the registry at one block."""

    def __init__(self, rpc: RpcClient, registry: str, block: int) -> None:
        self.rpc = rpc
        self.registry = registry
        self.block = hex(block)

    def call_many(
        self,
        signature: str,
        arguments: Sequence[tuple[list[str], list[Any]]],
        output: str,
    ) -> list[Any]:
        selector = function_signature_to_4byte_selector(signature)
        results: list[Any] = []
        for start in range(0, len(arguments), CALLS_PER_REQUEST):
            chunk = arguments[start : start + CALLS_PER_REQUEST]
            calls = [
                (
                    "eth_call",
                    [
                        {
                            "to": self.registry,
                            "data": "0x" + (selector + abi_encode(types, values)).hex(),
                        },
                        self.block,
                    ],
                )
                for types, values in chunk
            ]
            try:
                answers = self.rpc.batch(calls)
            except RpcError as exc:
                raise IndexerError(
                    f"The node cannot run calls at block {int(self.block, 16)}, the "
                    f"mirror's last block: {exc.rpc_message}. A node keeps the state "
                    "of recent blocks only (the embedded chain keeps "
                    "RECLAIM_ANVIL_STATE_HISTORY blocks); run 'reclaim index' to bring "
                    "the mirror to the chain's head, then verify again."
                ) from exc
            for raw in answers:
                results.append(abi_decode([output], bytes.fromhex(str(raw)[2:]))[0])
        return results

    def call_each(
        self,
        signature: str,
        arguments: Sequence[tuple[list[str], list[Any]]],
        output: str,
    ) -> list[Any | None]:
        """Like :meth:`call_many`, with None for each call that reverts."""
        try:
            return list(self.call_many(signature, arguments, output))
        except IndexerError as exc:
            if not _is_revert(exc.__cause__):
                raise
        results: list[Any | None] = []
        for argument in arguments:
            try:
                (result,) = self.call_many(signature, [argument], output)
            except IndexerError as exc:
                if not _is_revert(exc.__cause__):
                    raise
                result = None
            results.append(result)
        return results


def _is_revert(error: BaseException | None) -> bool:
    """Return True when ``error`` is the node's response to a reverted call."""
    return isinstance(error, RpcError) and "revert" in error.rpc_message.lower()


class _BatchLogs:
    """The chain's ``LotBatchRegistered`` logs by first lot id, read on first use."""

    def __init__(
        self,
        rpc: RpcClient,
        registry: str,
        start_block: int,
        last_block: int,
        log_range: int,
    ) -> None:
        self.rpc = rpc
        self.registry = registry
        self.start_block = start_block
        self.last_block = last_block
        self.log_range = log_range
        self._logs: dict[int, BatchLog | str] | None = None

    def find(self, first_lot_id: int) -> BatchLog | str | None:
        """Return the batch's log, a reason why it does not decode, or None."""
        if self._logs is None:
            self._logs = self._read()
        return self._logs.get(first_lot_id)

    def _read(self) -> dict[int, BatchLog | str]:
        found: dict[int, BatchLog | str] = {}
        from_block, span = self.start_block, self.log_range
        while from_block <= self.last_block:
            to_block = min(self.last_block, from_block + span - 1)
            try:
                logs = self.rpc.get_logs(
                    self.registry, from_block, to_block, [LOT_BATCH_REGISTERED_TOPIC]
                )
            except LogRangeTooLarge as exc:
                if span == 1:
                    raise _single_block_rejected(from_block, exc) from exc
                span = max(1, span // 2)
                continue
            for log in logs:
                try:
                    batch = parse_batch_log(log)
                except ValueError as exc:
                    found[int(log["topics"][1], 16)] = str(exc)
                    continue
                found[batch.first_lot_id] = batch
            from_block = to_block + 1
        return found


def _single_block_rejected(block: int, exc: LogRangeTooLarge) -> ChainError:
    return ChainError(
        f"The node refuses the registry's logs of block {block} alone "
        f"({exc.rpc_message}), so the mirror cannot be verified against it; verify "
        "against a node without this response limit."
    )


def _check_records(
    engine: Engine, caller: _Caller, batches: _BatchLogs, report: VerifyReport
) -> None:
    with engine.connect() as connection:
        lots = connection.execute(
            select(
                Lot.lot_id,
                Lot.building_id,
                Lot.category,
                Lot.record_hash,
                Lot.quantity,
                Lot.unit_mass_grams,
                Lot.unit,
            ).order_by(Lot.lot_id)
        ).all()
        buildings = connection.execute(
            select(Building.building_id, Building.record_hash).order_by(
                Building.building_id
            )
        ).all()

    (count,) = caller.call_many("lotCount()", [([], [])], "uint256")
    if count != len(lots):
        report.differences.append(
            Difference("lot count", "registry", str(len(lots)), str(count))
        )
    mirrored = {row.lot_id: row for row in lots}
    ids = sorted(set(mirrored) | set(range(1, count + 1)))
    chain_views = _chain_lot_views(caller, batches, list(range(1, count + 1)), report)
    for lot_id in ids:
        if lot_id > count:
            chain_views[lot_id] = dict.fromkeys(
                _lot_view(b"", b"", b"", 0, 0, 0), "missing"
            )
    for lot_id in ids:
        report.lots += 1
        chain_view = chain_views.get(lot_id)
        if chain_view is None:
            # The lot's batch could not be read; _chain_lot_views reported why.
            continue
        row = mirrored.get(lot_id)
        if row is None:
            mirror_view = dict.fromkeys(chain_view, "missing")
        else:
            mirror_view = {
                "building": row.building_id or "0x" + "00" * 32,
                "category": _bytes32_text(row.category),
                "record hash": row.record_hash,
                "quantity": str(row.quantity),
                "unit mass": str(row.unit_mass_grams),
                "unit": str(row.unit),
            }
        for name, chain_value in chain_view.items():
            if mirror_view[name] != chain_value:
                report.differences.append(
                    Difference(
                        f"lot {name}", f"lot {lot_id}", mirror_view[name], chain_value
                    )
                )

    hashes = caller.call_many(
        "buildingRecordHash(bytes32)",
        [(["bytes32"], [bytes.fromhex(row.building_id[2:])]) for row in buildings],
        "bytes32",
    )
    for row, chain_hash in zip(buildings, hashes, strict=True):
        report.buildings += 1
        if row.record_hash != "0x" + chain_hash.hex():
            report.differences.append(
                Difference(
                    "building record hash",
                    f"building {row.building_id}",
                    row.record_hash,
                    "0x" + chain_hash.hex(),
                )
            )


def _chain_lot_views(
    caller: _Caller, batches: _BatchLogs, ids: list[int], report: VerifyReport
) -> dict[int, dict[str, str]]:
    """Return each lot's fields on chain as text, keyed by lot id.

    Lots of a batch whose log is missing or fails ``verifyLot`` get no view; a
    difference names the batch instead.
    """
    batch_of = caller.call_many(
        "lotBatch(uint256)",
        [(["uint256"], [lot_id]) for lot_id in ids],
        "(uint256,uint256,uint256)",
    )
    single_ids = [
        lot_id
        for lot_id, (_, count, _) in zip(ids, batch_of, strict=True)
        if count == 0
    ]
    views = {
        lot_id: _lot_view(*chain_lot)
        for lot_id, chain_lot in zip(
            single_ids,
            caller.call_many(
                "lot(uint256)",
                [(["uint256"], [lot_id]) for lot_id in single_ids],
                LOT_TYPES,
            ),
            strict=True,
        )
    }

    counts = {first: count for first, count, _ in batch_of if count}
    verified = _verified_batches(caller, batches, counts, report)
    for lot_id, (first, count, _) in zip(ids, batch_of, strict=True):
        batch = verified.get(first) if count else None
        if batch is not None:
            views[lot_id] = _lot_view(*batch.lot_fields(lot_id))
    return views


def _verified_batches(
    caller: _Caller,
    batches: _BatchLogs,
    counts: dict[int, int],
    report: VerifyReport,
) -> dict[int, BatchLog]:
    """Return the batches whose log ``verifyLot`` accepts, by first lot id.

    One ``verifyLot`` of the first lot checks the whole batch, because the registry
    compares the keccak256 of the building id and all entries with its commitment.
    """
    logs: dict[int, BatchLog] = {}
    for first, count in sorted(counts.items()):
        subject = f"lots {first}-{first + count - 1}"
        found = batches.find(first)
        if not isinstance(found, BatchLog):
            report.differences.append(
                Difference(
                    "lot batch log",
                    subject,
                    "",
                    "missing" if found is None else f"undecodable: {found}",
                )
            )
        elif found.lot_count != count:
            report.differences.append(
                Difference(
                    "lot batch size", subject, f"log of {found.lot_count}", str(count)
                )
            )
        else:
            logs[first] = found

    ordered = sorted(logs.values(), key=lambda batch: batch.first_lot_id)
    results = caller.call_each(
        "verifyLot(uint256,bytes32,bytes)",
        [
            (
                ["uint256", "bytes32", "bytes"],
                [
                    batch.first_lot_id,
                    bytes.fromhex(batch.building_id[2:]),
                    bytes.fromhex(batch.entries[2:]),
                ],
            )
            for batch in ordered
        ],
        LOT_TYPES,
    )
    verified: dict[int, BatchLog] = {}
    for batch, result in zip(ordered, results, strict=True):
        subject = (
            f"lots {batch.first_lot_id}-{batch.first_lot_id + batch.lot_count - 1}"
        )
        decoded = batch.lot_fields(batch.first_lot_id)
        if result is None:
            report.differences.append(
                Difference(
                    "lot batch commitment",
                    subject,
                    "",
                    f"verifyLot rejects the entries of the log in block "
                    f"{batch.block_number}",
                )
            )
        elif tuple(result) != decoded:
            report.differences.append(
                Difference(
                    "lot batch entry",
                    f"lot {batch.first_lot_id}",
                    str(decoded),
                    str(result),
                )
            )
        else:
            verified[batch.first_lot_id] = batch
    return verified


def _lot_view(
    building: bytes,
    category: bytes,
    record_hash: bytes,
    quantity: int,
    unit_mass: int,
    unit: int,
) -> dict[str, str]:
    return {
        "building": "0x" + building.hex(),
        "category": "0x" + category.hex(),
        "record hash": "0x" + record_hash.hex(),
        "quantity": str(quantity),
        "unit mass": str(unit_mass),
        "unit": str(unit),
    }


def _check_balances(engine: Engine, caller: _Caller, report: VerifyReport) -> None:
    balances: dict[tuple[int, str], int] = {}
    with engine.connect() as connection:
        for lot_id, holder, balance in connection.execute(
            select(Holding.lot_id, Holding.holder, Holding.balance)
        ):
            balances[(lot_id, holder)] = balance
        # Every address that received a token may hold some: ask the chain about it too.
        for pair in _received(connection):
            balances.setdefault(pair, 0)

    pairs = sorted(balances)
    arguments = [
        (
            ["address[]", "uint256[]"],
            [
                [holder for _, holder in pairs[start : start + BALANCES_PER_CALL]],
                [lot for lot, _ in pairs[start : start + BALANCES_PER_CALL]],
            ],
        )
        for start in range(0, len(pairs), BALANCES_PER_CALL)
    ]
    chain_values: list[int] = []
    for values in caller.call_many(
        "balanceOfBatch(address[],uint256[])", arguments, "uint256[]"
    ):
        chain_values.extend(values)
    for (lot_id, holder), chain_balance in zip(pairs, chain_values, strict=True):
        report.balances += 1
        if balances[(lot_id, holder)] != chain_balance:
            report.differences.append(
                Difference(
                    "balance",
                    f"lot {lot_id} holder {holder}",
                    str(balances[(lot_id, holder)]),
                    str(chain_balance),
                )
            )


def _received(connection: Any) -> Iterator[tuple[int, str]]:
    """Yield (lot id, receiver) of every ERC-1155 transfer the mirror stored."""
    rows = connection.execute(
        select(RawEvent.topics, RawEvent.data, RawEvent.event_name).where(
            RawEvent.event_name.in_(("TransferSingle", "TransferBatch"))
        )
    )
    for topics_text, data, name in rows:
        topics = json.loads(topics_text)
        receiver = "0x" + topics[3][-40:]
        payload = bytes.fromhex(data[2:])
        if name == "TransferSingle":
            lot_id, _value = abi_decode(["uint256", "uint256"], payload)
            yield (lot_id, receiver)
        else:
            ids, _values = abi_decode(["uint256[]", "uint256[]"], payload)
            for lot_id in ids:
                yield (lot_id, receiver)


def _check_event_counts(
    engine: Engine,
    rpc: RpcClient,
    registry: str,
    start_block: int,
    last_block: int,
    log_range: int,
    report: VerifyReport,
) -> None:
    """Compare, per block range, the chain's logs with raw events and derived rows.

    The raw events must match the chain's log count, and each table filled from the
    events (buildings, lots, transfers and the like) the number of rows its logs make:
    one per log, or one per lot of a batch registration.
    """
    decoder = EventDecoder(load_artifact()["abi"])
    with engine.connect() as connection:
        stored = {"raw events": _counts_by_block(connection, RawEvent)}
        for model, _ in ROW_EVENTS.values():
            stored[model.__tablename__] = _counts_by_block(connection, model)

    from_block = start_block
    span = log_range
    while from_block <= last_block:
        to_block = min(last_block, from_block + span - 1)
        try:
            logs = rpc.get_logs(registry, from_block, to_block)
        except LogRangeTooLarge as exc:
            if span == 1:
                raise _single_block_rejected(from_block, exc) from exc
            span = max(1, span // 2)
            continue
        report.ranges += 1
        report.events += len(logs)
        on_chain: dict[str, int] = defaultdict(int)
        on_chain["raw events"] = len(logs)
        on_chain.update(
            _compare_rows(engine, rpc, decoder, logs, from_block, to_block, report)
        )
        for name, (numbers, totals) in stored.items():
            mirror_count = _count_between(numbers, totals, from_block, to_block)
            if mirror_count != on_chain[name]:
                report.differences.append(
                    Difference(
                        "raw events count" if name == "raw events" else f"{name} rows",
                        f"blocks {from_block}-{to_block}",
                        str(mirror_count),
                        str(on_chain[name]),
                    )
                )
        from_block = to_block + 1


def _compare_rows(
    engine: Engine,
    rpc: RpcClient,
    decoder: EventDecoder,
    logs: list[dict[str, Any]],
    from_block: int,
    to_block: int,
    report: VerifyReport,
) -> dict[str, int]:
    """Derive the raw events and rows of one block range from the chain's logs, and
    compare them field by field with the mirror's rows of that range.

    Returns the number of rows the logs make in each derived table.
    """
    events = []
    for log in logs:
        try:
            events.append(decoder.decode(log))
        except UndecodableLog as exc:
            report.differences.append(
                Difference(
                    "undecodable log", f"blocks {from_block}-{to_block}", "", str(exc)
                )
            )
    numbers = sorted({event.block_number for event in events})
    headers = dict(zip(numbers, rpc.headers(numbers), strict=True))

    expected: dict[Any, dict[tuple[int, ...], dict[str, Any]]] = defaultdict(dict)
    for event in events:
        position = (event.block_number, event.log_index)
        expected[RawEvent][position] = {
            "block_hash": event.block_hash,
            "transaction_hash": event.transaction_hash,
            "event_name": event.name,
            "topics": json.dumps(list(event.topics)),
            "data": event.data,
        }
        try:
            derived = derived_rows(event)
        except IndexerError as exc:
            report.differences.append(
                Difference(
                    "undecodable log", f"blocks {from_block}-{to_block}", "", str(exc)
                )
            )
            continue
        if derived is not None:
            model, rows = derived
            origin = row_origin(event, headers)
            for row in rows:
                expected[model][_row_key(model, {**row, **origin})] = {**row, **origin}

    models = [RawEvent, *{model: None for model, _ in ROW_EVENTS.values()}]
    with engine.connect() as connection:
        for model in models:
            table = model.__table__
            columns = [
                column.name
                for column in table.columns
                if not (column.name == "id" and column.primary_key)
            ]
            stored = {
                _row_key(model, row): dict(row)
                for row in connection.execute(
                    select(*(table.c[name] for name in columns)).where(
                        table.c.block_number.between(from_block, to_block)
                    )
                ).mappings()
            }
            check = "raw event" if model is RawEvent else f"{table.name} row"
            wanted = expected.get(model, {})
            for position in sorted(set(stored) | set(wanted)):
                subject = f"block {position[0]} log {position[1]}"
                if len(position) > 2:
                    subject += f" lot {position[2]}"
                mirror_row, chain_row = stored.get(position), wanted.get(position)
                if mirror_row is None or chain_row is None:
                    report.differences.append(
                        Difference(
                            check,
                            subject,
                            "missing" if mirror_row is None else "present",
                            "missing" if chain_row is None else "present",
                        )
                    )
                    continue
                for name, value in chain_row.items():
                    if mirror_row.get(name) != value:
                        report.differences.append(
                            Difference(
                                f"{check} {name}",
                                subject,
                                str(mirror_row.get(name)),
                                str(value),
                            )
                        )
    return {
        model.__tablename__: len(rows)
        for model, rows in expected.items()
        if model is not RawEvent
    }


def _row_key(model: Any, row: Any) -> tuple[int, ...]:
    """Return the key that identifies a derived row: its event's position, and the
    lot id in tables that a batch registration fills."""
    if model.__tablename__ in _MULTI_ROW_TABLES:
        return (row["block_number"], row["log_index"], row["lot_id"])
    return (row["block_number"], row["log_index"])


def _counts_by_block(connection: Any, model: Any) -> tuple[list[int], list[int]]:
    """Return sorted block numbers and running totals of ``model``'s rows."""
    rows = connection.execute(
        select(model.block_number, func.count())
        .group_by(model.block_number)
        .order_by(model.block_number)
    ).all()
    numbers = [number for number, _ in rows]
    totals = list(itertools.accumulate(count for _, count in rows))
    return numbers, totals


def _count_between(numbers: list[int], totals: list[int], low: int, high: int) -> int:
    """Return the events stored in blocks ``low``..``high`` from prefix sums."""
    start = bisect.bisect_left(numbers, low)
    end = bisect.bisect_right(numbers, high)
    if end == 0 or start >= end:
        return 0
    return totals[end - 1] - (totals[start - 1] if start else 0)


def _bytes32_text(value: str) -> str:
    """Return the bytes32 hex of a category stored as text or as hex."""
    if value.startswith("0x") and len(value) == 66:
        return value
    return "0x" + ascii_bytes32(value).hex()
