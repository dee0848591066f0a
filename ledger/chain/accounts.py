"""Signing accounts: anvil's development keys locally, a set key elsewhere."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.anvil import DEV_MNEMONIC
from ledger.errors import ConfigurationError, InvalidInput
from ledger.settings import Settings

Account.enable_unaudited_hdwallet_features()

DEV_KEYS_NOTICE = (
    "Signing with anvil's well-known development keys: they are public and only "
    "safe on the local chain."
)


def dev_account(index: int) -> LocalAccount:
    """Return anvil's development account ``index`` (index 0 deploys and registers)."""
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def operator_account(settings: Settings) -> LocalAccount:
    """Return the account that deploys the registry and registers lots."""
    if settings.private_key is not None:
        return Account.from_key(settings.private_key.get_secret_value())
    if settings.uses_embedded_chain:
        return dev_account(0)
    raise ConfigurationError(
        f"No signing key is set for the chain at {settings.rpc_url}; set "
        "RECLAIM_PRIVATE_KEY (a 0x-prefixed hex key)."
    )


def parse_address(text: str) -> str:
    """Return ``text`` as a checksummed address, accepting any letter case.

    A mixed-case address must carry a valid EIP-55 checksum. All-lower-case and
    all-upper-case hex carry none and are accepted as they are.
    """
    value = text.strip()
    if not _is_plain_hex_address(value):
        raise InvalidInput(
            f"{text!r} is not an Ethereum address (0x and 40 hex digits)."
        )
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and not Web3.is_checksum_address(
        value
    ):
        raise InvalidInput(
            f"Address {text!r} has an invalid checksum; check it or write it in "
            "lower case."
        )
    return str(Web3.to_checksum_address(value.lower()))


def _is_plain_hex_address(value: str) -> bool:
    digits = value[2:]
    return (
        value[:2] in ("0x", "0X")
        and len(digits) == 40
        and all(c in "0123456789abcdefABCDEF" for c in digits)
    )
