"""Exception hierarchy of Reclaim Ledger.

Every exception the library raises on purpose derives from :class:`LedgerError`, so the
CLI and the API can turn it into one clear line or a fixed HTTP status.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported for annotations only, because ledger.importer imports this module.
    from ledger.importer import RowError


class LedgerError(Exception):
    """Base of every error Reclaim Ledger raises on purpose."""


class ConfigurationError(LedgerError):
    """A setting is missing or invalid."""


class ToolchainError(LedgerError):
    """A required tool (anvil, solc, node) is missing or failed."""


class ChainError(LedgerError):
    """The chain could not be reached or returned something unexpected."""


class ChainNotRunning(ChainError):
    """No node responds at the configured RPC URL."""


class TransactionFailed(ChainError):
    """A transaction reverted or was not mined."""


class DeploymentNotFound(LedgerError):
    """No registry contract is deployed on the connected chain."""


class InvalidInput(LedgerError):
    """A value given by a user or a file is invalid."""


class InventoryRejected(InvalidInput):
    """An inventory file has invalid rows; nothing of it was stored."""

    def __init__(self, errors: Sequence[RowError], source: str | None = None) -> None:
        self.errors: list[RowError] = list(errors)
        self.source = source
        name = source if source is not None else "The inventory"
        noun = "error" if len(self.errors) == 1 else "errors"
        lines = "\n".join(str(error) for error in self.errors)
        super().__init__(
            f"{name} was rejected with {len(self.errors)} {noun}. Fix the lines "
            f"below and import the file again:\n{lines}"
        )


class NotFound(LedgerError):
    """A building, lot or holder does not exist."""


class IndexerError(LedgerError):
    """The indexer cannot continue without risking a wrong mirror."""


class AuthenticationFailed(LedgerError):
    """An API key is missing, unknown or revoked."""


class PermissionDenied(LedgerError):
    """An organisation tried to act on something that belongs to another one."""


class Conflict(LedgerError):
    """A request conflicts with the current state, such as more than is available."""


class LockTimeout(LedgerError):
    """A timeout while waiting for a lock that another thread or process holds."""
