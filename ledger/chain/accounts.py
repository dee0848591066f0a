"""Signing accounts: anvil's development keys on the local chain, a set key elsewhere."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.anvil import DEV_MNEMONIC
from ledger.errors import ConfigurationError
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
