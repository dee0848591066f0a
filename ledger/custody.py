"""Custody transfers as the CLI and the demo ask for them: names, text quantities."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import select
from web3.types import TxReceipt

from ledger.chain.accounts import dev_account
from ledger.context import Ledger
from ledger.db.models import Transfer
from ledger.db.types import UINT256_MAX
from ledger.errors import InvalidInput
from ledger.importing import resolve_address
from ledger.organisations import find_organisation, unlock_account
from ledger.units import QUANTITY_SCALE, parse_decimal, to_fixed
from ledger.writes import CustodyReason, transfer_custody


def reference_hash(reference: str | None) -> bytes:
    """Return a 0x-prefixed 32-byte hash as bytes, or the keccak256 of other text."""
    if not reference:
        return bytes(32)
    text = reference.strip()
    if text.startswith("0x") and len(text) == 66:
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            pass
    return keccak(text=text)


def signing_account(ledger: Ledger, account_text: str) -> LocalAccount:
    """Return the account that signs for ``account_text``: 'operator' or an actor id.

    An organisation's key comes from its encrypted keystore. Without an organisation
    of that id, the local chain falls back to anvil's development account ``nnn``.
    """
    if account_text == "operator":
        return ledger.operator
    text = account_text.strip().upper()
    organisation = find_organisation(ledger.engine, text)
    if organisation is not None:
        return unlock_account(ledger.settings, organisation.chain_address)
    if (
        text.startswith("ACT-")
        and text[4:].isdigit()
        and ledger.settings.uses_embedded_chain
    ):
        index = int(text[4:])
        accounts = ledger.settings.anvil_accounts
        if index < accounts:
            return dev_account(index)
        raise InvalidInput(
            f"Cannot sign for {account_text!r}: it is not an organisation (see "
            "'reclaim org list' or add it with 'reclaim org add') and the local chain "
            f"funds only development accounts ACT-000 to ACT-{accounts - 1:03d}."
        )
    raise InvalidInput(
        f"Cannot sign for {account_text!r}: on the local chain use an actor id "
        "like ACT-003, elsewhere 'operator' with RECLAIM_PRIVATE_KEY set."
    )


def transfer_lot(
    ledger: Ledger,
    lot_id: int,
    sender: str,
    receiver: str,
    quantity: str,
    reason: str,
    reference: str | None,
) -> TxReceipt:
    """Move ``quantity`` (text in the lot's unit, such as ``84.5``) of a lot."""
    account = signing_account(ledger, sender)
    amount = to_fixed(parse_decimal(quantity), QUANTITY_SCALE, "a quantity")
    if amount <= 0:
        raise InvalidInput(f"Quantity {quantity!r} must be greater than zero.")
    if amount > UINT256_MAX:
        raise InvalidInput(
            f"Quantity {quantity!r} is above the maximum quantity the registry can "
            "store; check the number."
        )
    return transfer_custody(
        ledger.registry,
        ledger.sender(account),
        resolve_address(ledger, receiver),
        lot_id,
        amount,
        CustodyReason.parse(reason),
        reference_hash(reference),
    )


def reference_recorded(ledger: Ledger, reference: str) -> bool:
    """True when the mirror has a transfer with this reference's hash."""
    digest = "0x" + reference_hash(reference).hex()
    with ledger.engine.connect() as connection:
        found = connection.execute(
            select(Transfer.id).where(Transfer.reference_hash == digest).limit(1)
        ).first()
    return found is not None
