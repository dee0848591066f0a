"""Settings of Reclaim Ledger, read once and passed down.

Precedence: CLI flag over environment (``RECLAIM_*``) over a ``.env`` file over the
defaults below.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigurationError

DEFAULT_DATA_DIR = Path("var")
DEFAULT_CHAIN_ID = 31337
DEFAULT_ANVIL_ACCOUNTS = 20
# Each kept block state is a full copy of the chain state (about 8 MB with 10,000 lots).
DEFAULT_ANVIL_STATE_HISTORY = 32
DEFAULT_LOG_RANGE = 2_000
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_RESERVATION_HOURS = 48
DEFAULT_KEYSTORE_SCRYPT_N = 2**18
# A search counts the matches up to this many past the last lot of its page, then
# reports that more match, as web search engines do. On PostgreSQL 15 at 100,000
# lots, a search for "pallets" in one category, which 14,286 lots match, took a
# median of 44 ms when it counted them all and 16 to 18 ms when it stopped at
# 1,020 (docs/benchmarks.md).
DEFAULT_SEARCH_COUNT_AHEAD = 1_000
# A search counts in one LIMIT the lots up to the end of its page (at most 10**8:
# 1,000,000 pages of 100) plus count_ahead + 1. This bound keeps that LIMIT within
# the 64-bit integers of SQLite and PostgreSQL, so the largest value counts every
# match.
MAX_SEARCH_COUNT_AHEAD = 2**62


class Settings(BaseSettings):
    """One settings object for the CLI, the indexer and the API."""

    model_config = SettingsConfigDict(
        env_prefix="RECLAIM_", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Folder for the local chain's state, deployments and the database.",
    )
    rpc_url: str | None = Field(
        None,
        description=(
            "JSON-RPC URL of an EVM node; empty means the embedded anvil chain."
        ),
    )
    chain_id: int = Field(
        DEFAULT_CHAIN_ID, description="Chain id of the embedded anvil chain."
    )
    anvil_accounts: int = Field(
        DEFAULT_ANVIL_ACCOUNTS,
        description="Number of funded development accounts of the embedded chain.",
    )
    anvil_state_history: int = Field(
        DEFAULT_ANVIL_STATE_HISTORY,
        ge=1,
        description=(
            "Number of recent blocks whose state the embedded chain keeps for calls "
            "at past blocks, such as a lot check at the mirror's last block."
        ),
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the mirror; empty means a SQLite file in data_dir."
        ),
    )
    private_key: SecretStr | None = Field(
        None,
        description="Signing key for a remote chain; the local chain uses dev keys.",
    )
    confirmations: int = Field(
        0,
        ge=0,
        description=(
            "Finality depth: blocks below the head that can still be replaced. The "
            "indexer rolls back reorganisations up to this depth and stops on "
            "deeper ones."
        ),
    )
    rpc_retry_seconds: float = Field(
        60.0,
        gt=0,
        description="How long the indexer retries a failing node before it gives up.",
    )
    log_range: int = Field(
        DEFAULT_LOG_RANGE, ge=1, description="Blocks per eth_getLogs request."
    )
    poll_interval: float = Field(
        DEFAULT_POLL_INTERVAL, gt=0, description="Seconds between polls in follow mode."
    )
    carbon_factors: Path | None = Field(
        None,
        description="CSV of carbon factors for audits; empty means the sample file.",
    )
    public_url: str = Field(
        DEFAULT_PUBLIC_URL,
        description="Public base URL of the web service, printed in QR labels.",
    )
    keystore_passphrase: SecretStr | None = Field(
        None,
        description=(
            "Passphrase of the organisations' encrypted keystores; required on a "
            "remote chain."
        ),
    )
    keystore_scrypt_n: int = Field(
        DEFAULT_KEYSTORE_SCRYPT_N,
        ge=2,
        description=(
            "scrypt cost parameter n of new keystores (a power of two; eth-account's "
            "default is 2**18)."
        ),
    )
    reservation_hours: float = Field(
        DEFAULT_RESERVATION_HOURS,
        gt=0,
        description="Hours a reservation lasts unless the request sets it.",
    )
    search_count_ahead: int = Field(
        DEFAULT_SEARCH_COUNT_AHEAD,
        ge=0,
        le=MAX_SEARCH_COUNT_AHEAD,
        description=(
            "Matches a search counts past the end of its page before it reports "
            "that more match."
        ),
    )

    @property
    def uses_embedded_chain(self) -> bool:
        """True when the chain is the local anvil that Reclaim Ledger starts itself."""
        return not self.rpc_url

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        path = (self.data_dir / "ledger.sqlite3").resolve()
        return f"sqlite:///{path}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, with non-None keyword arguments (CLI flags) taking precedence.

    Raises ConfigurationError naming each invalid variable, its value and the rule.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            f"RECLAIM_{'_'.join(str(part) for part in error['loc']).upper()}="
            f"{error.get('input')!r}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ConfigurationError(
            "Invalid settings; fix these environment variables, .env entries or "
            "flags: " + "; ".join(problems)
        ) from None
