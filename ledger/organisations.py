"""Organisations, their encrypted signing keys and their API keys.

Each organisation signs its own custody transfers. Its private key is kept only in an
encrypted JSON v3 keystore (eth-account ``Account.encrypt``) under
``DATA_DIR/keystores/``, named by the organisation's address. API keys are random
tokens shown once. The database stores only their SHA-256 hash and a random prefix,
so a key is found through an indexed column and compared in constant time.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.chain.accounts import dev_account
from ledger.db.models import ApiKey, Organisation
from ledger.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidInput,
    NotFound,
)
from ledger.settings import Settings

logger = logging.getLogger(__name__)

KEYSTORE_DIR = "keystores"

# The embedded chain's actor keys are anvil's public development keys, so their
# keystores need no secret passphrase. A remote chain always needs a configured one.
LOCAL_CHAIN_PASSPHRASE = "reclaim-local-chain"

API_KEY_SCHEME = "rlk"
API_KEY_PREFIX_BYTES = 8
API_KEY_SECRET_BYTES = 32

# Roles as written in the actors file; "contractor" and "yard" are accepted aliases.
ROLES = (
    "deconstruction_contractor",
    "reclamation_dealer",
    "transporter",
    "architect",
    "buyer",
    "inspector",
    "auditor",
    "reuse_inventory_author",
    "building_owner",
    "general_contractor",
    "seller",
    "reuse_designer",
)
ROLE_ALIASES = {
    "contractor": "deconstruction_contractor",
    "yard": "reclamation_dealer",
}

# Decrypting a keystore of scrypt cost 2**18 took 0.7 s to 2.6 s on a shared 2-core
# AMD EPYC server (eth-account 0.14, scripts/keystore_timing.py), so a long-running
# service keeps decrypted accounts in memory, keyed by file path, modification time
# and passphrase hash.
_unlocked: dict[tuple[str, int, str], LocalAccount] = {}
_unlocked_lock = threading.Lock()


@dataclass(frozen=True)
class OrganisationView:
    """An organisation as shown by the CLI and the API."""

    id: int
    actor_id: str
    name: str
    role: str
    secondary_roles: list[str]
    street_address: str
    postcode: str
    city: str
    country: str
    chain_address: str


@dataclass(frozen=True)
class SeedResult:
    """Counts of the organisations a seed added or found already present."""

    added: int
    skipped: int


def parse_role(text: str) -> str:
    """Parse a role name such as ``yard`` or ``reclamation_dealer``."""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    key = ROLE_ALIASES.get(key, key)
    if key not in ROLES:
        choices = ", ".join((*ROLES, *ROLE_ALIASES))
        raise InvalidInput(
            f"{text!r} is not an organisation role; use one of: {choices}."
        )
    return key


def check_text(value: str, what: str) -> str:
    """Return ``value`` unless it contains control characters such as NUL.

    PostgreSQL cannot store NUL in text, and no name or id needs a control
    character, so they are rejected before any query.
    """
    if any(ord(character) < 32 for character in value):
        raise InvalidInput(
            f"{what} {value[:40]!r} contains control characters; remove them."
        )
    return value


# ------------------------------------------------------------------ keystores


def keystore_passphrase(settings: Settings) -> str:
    """Return the keystore passphrase, or the fixed local one on the embedded chain."""
    if settings.keystore_passphrase is not None:
        return settings.keystore_passphrase.get_secret_value()
    if settings.uses_embedded_chain:
        return LOCAL_CHAIN_PASSPHRASE
    raise ConfigurationError(
        f"No keystore passphrase is set for the chain at {settings.rpc_url}; set "
        "RECLAIM_KEYSTORE_PASSPHRASE before creating or using organisation keys."
    )


def keystore_path(settings: Settings, address: str) -> Path:
    """Return the keystore file of ``address`` under the data folder."""
    return settings.data_dir / KEYSTORE_DIR / f"{address.lower()}.json"


def write_keystore(settings: Settings, account: LocalAccount) -> Path:
    """Encrypt ``account``'s key into its keystore file, readable by the owner only."""
    cost = settings.keystore_scrypt_n
    if cost & (cost - 1):
        raise ConfigurationError(
            f"RECLAIM_KEYSTORE_SCRYPT_N={cost} is not a power of two; use 262144 "
            "(2**18) or another power of two."
        )
    keystore = Account.encrypt(
        account.key,
        keystore_passphrase(settings),
        kdf="scrypt",
        iterations=cost,
    )
    path = keystore_path(settings, account.address)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(keystore, file)
    logger.info("Wrote the keystore of %s", account.address)
    return path


def unlock_account(settings: Settings, address: str) -> LocalAccount:
    """Decrypt the keystore of ``address`` and return its signing account."""
    path = keystore_path(settings, address)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise NotFound(
            f"No keystore for {address} in {path.parent}; add the organisation with "
            "'reclaim org add' or 'reclaim org seed'."
        ) from None
    passphrase = keystore_passphrase(settings)
    # The passphrase's hash is part of the cache key, so a wrong one never unlocks.
    cache_key = (str(path.resolve()), stamp, _key_hash(passphrase))
    with _unlocked_lock:
        cached = _unlocked.get(cache_key)
    if cached is not None:
        return cached

    keystore = json.loads(path.read_text(encoding="utf-8"))
    try:
        key = Account.decrypt(keystore, passphrase)
    except ValueError:
        raise ConfigurationError(
            f"The keystore {path} does not open with the configured passphrase; check "
            "RECLAIM_KEYSTORE_PASSPHRASE."
        ) from None
    account: LocalAccount = Account.from_key(key)
    with _unlocked_lock:
        _unlocked[cache_key] = account
    return account


def _new_account(settings: Settings, actor_id: str) -> LocalAccount:
    """Return the key of a new organisation.

    On the embedded chain an id ``ACT-nnn`` gets anvil's funded development account
    ``nnn``, the same one the CLI uses for that id. Any other id, and every id on a
    remote chain, gets a new random key, which needs funds before it can send.
    """
    number = _actor_number(actor_id)
    if (
        settings.uses_embedded_chain
        and number is not None
        and 0 < number < settings.anvil_accounts
    ):
        return dev_account(number)
    account: LocalAccount = Account.create()
    return account


def _actor_number(actor_id: str) -> int | None:
    if actor_id.startswith("ACT-") and actor_id[4:].isdigit():
        return int(actor_id[4:])
    return None


# -------------------------------------------------------------- organisations


def add_organisation(
    settings: Settings,
    engine: Engine,
    name: str,
    role: str,
    street_address: str = "",
    postcode: str = "",
    city: str = "",
    country: str = "BE",
    actor_id: str | None = None,
    secondary_roles: list[str] | None = None,
) -> OrganisationView:
    """Create an organisation with a new keystore; return it."""
    name = name.strip()
    if not name:
        raise InvalidInput("An organisation needs a name; give one with --name.")
    role = parse_role(role)
    secondary = [parse_role(extra) for extra in secondary_roles or []]
    country = country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput(
            f"Country {country!r} must be a two-letter ISO 3166 code such as BE."
        )

    with Session(engine) as session, session.begin():
        if actor_id is None:
            actor_id = _next_actor_id(session)
        actor_id = actor_id.strip().upper()
        if not actor_id or len(actor_id) > 32:
            raise InvalidInput(
                f"Organisation id {actor_id!r} must be 1 to 32 characters long."
            )
        taken = session.execute(
            select(Organisation.id).where(Organisation.actor_id == actor_id)
        ).first()
        if taken is not None:
            raise InvalidInput(
                f"Organisation {actor_id!r} already exists; choose another --id."
            )

        account = _new_account(settings, actor_id)
        address = account.address.lower()
        owner = session.execute(
            select(Organisation.actor_id).where(Organisation.chain_address == address)
        ).scalar_one_or_none()
        if owner is not None:
            raise InvalidInput(
                f"Address {account.address} already belongs to organisation {owner}."
            )
        write_keystore(settings, account)
        row = Organisation(
            actor_id=actor_id,
            name=name,
            role=role,
            secondary_roles=",".join(secondary),
            street_address=street_address.strip(),
            postcode=postcode.strip(),
            city=city.strip(),
            country=country,
            chain_address=address,
            created_at=int(time.time()),
        )
        session.add(row)
        session.flush()
        view = _view(row)
    logger.info("Added organisation %s at %s", actor_id, account.address)
    return view


def seed_organisations(settings: Settings, engine: Engine, path: Path) -> SeedResult:
    """Add the organisations of an actors CSV file that are not present yet."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    required = {"actor_id", "name", "role", "address", "postcode", "city", "country"}
    if rows and not required <= set(rows[0]):
        missing = ", ".join(sorted(required - set(rows[0])))
        raise InvalidInput(f"{path} lacks the columns {missing}.")

    with Session(engine) as session:
        present = set(session.execute(select(Organisation.actor_id)).scalars())
    added = 0
    for row in rows:
        actor_id = row["actor_id"].strip().upper()
        if actor_id in present:
            continue
        extra = [role for role in (row.get("secondary_roles") or "").split(";") if role]
        add_organisation(
            settings,
            engine,
            name=row["name"],
            role=row["role"],
            street_address=row["address"],
            postcode=row["postcode"],
            city=row["city"],
            country=row["country"],
            actor_id=actor_id,
            secondary_roles=extra,
        )
        added += 1
    return SeedResult(added=added, skipped=len(rows) - added)


def list_organisations(engine: Engine) -> list[OrganisationView]:
    """Return every organisation ordered by id."""
    with Session(engine) as session:
        rows = session.execute(
            select(Organisation).order_by(Organisation.actor_id)
        ).scalars()
        return [_view(row) for row in rows]


def get_organisation(engine: Engine, actor_id: str) -> OrganisationView:
    """Return the organisation with id ``actor_id`` such as ``ACT-004``."""
    check_text(actor_id, "An organisation id")
    with Session(engine) as session:
        row = session.execute(
            select(Organisation).where(
                Organisation.actor_id == actor_id.strip().upper()
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"Organisation {actor_id!r} does not exist; list them with "
                "'reclaim org list'."
            )
        return _view(row)


def find_organisation(engine: Engine, actor_id: str) -> OrganisationView | None:
    """Return the organisation ``actor_id``, or None if there is none.

    Text that cannot be an id, such as an address, gives None as well.
    """
    if any(ord(character) < 32 for character in actor_id):
        return None
    try:
        return get_organisation(engine, actor_id)
    except NotFound:
        return None


def organisation_at(engine: Engine, address: str) -> OrganisationView | None:
    """Return the organisation whose chain address is ``address``, or None."""
    with Session(engine) as session:
        row = session.execute(
            select(Organisation).where(Organisation.chain_address == address.lower())
        ).scalar_one_or_none()
        return _view(row) if row is not None else None


def _next_actor_id(session: Session) -> str:
    numbers = [
        _actor_number(actor_id)
        for actor_id in session.execute(select(Organisation.actor_id)).scalars()
    ]
    highest = max((number for number in numbers if number is not None), default=0)
    return f"ACT-{highest + 1:03d}"


def _view(row: Organisation) -> OrganisationView:
    return OrganisationView(
        id=row.id,
        actor_id=row.actor_id,
        name=row.name,
        role=row.role,
        secondary_roles=[role for role in row.secondary_roles.split(",") if role],
        street_address=row.street_address,
        postcode=row.postcode,
        city=row.city,
        country=row.country,
        chain_address=row.chain_address,
    )


# ------------------------------------------------------------------- API keys


def create_api_key(engine: Engine, actor_id: str) -> str:
    """Create an API key for an organisation and return it; only its hash is stored."""
    organisation = get_organisation(engine, actor_id)
    prefix = secrets.token_hex(API_KEY_PREFIX_BYTES)
    key = f"{API_KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(API_KEY_SECRET_BYTES)}"
    with Session(engine) as session, session.begin():
        session.add(
            ApiKey(
                organisation_id=organisation.id,
                prefix=prefix,
                key_hash=_key_hash(key),
                created_at=int(time.time()),
            )
        )
    logger.info("Created API key %s for %s", prefix, organisation.actor_id)
    return key


def revoke_api_key(engine: Engine, prefix: str) -> None:
    """Revoke the API key whose prefix (the part after ``rlk_``) is ``prefix``."""
    with Session(engine) as session, session.begin():
        row = session.execute(
            select(ApiKey).where(ApiKey.prefix == prefix.strip())
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"No API key has the prefix {prefix!r}.")
        if row.revoked_at is None:
            row.revoked_at = int(time.time())


def authenticate(engine: Engine, key: str | None) -> OrganisationView:
    """Return the organisation an API key belongs to; raise if it is invalid."""
    if not key:
        raise AuthenticationFailed(
            "This request needs an API key: send 'Authorization: Bearer KEY' or "
            "'X-API-Key: KEY'. Create one with 'reclaim org key ORG'."
        )
    parts = key.strip().split("_", 2)
    invalid = AuthenticationFailed(
        "The API key is invalid or revoked; create a new one with "
        "'reclaim org key ORG'."
    )
    if len(parts) != 3 or parts[0] != API_KEY_SCHEME or len(parts[1]) > 32:
        raise invalid
    with Session(engine) as session:
        row = session.execute(
            select(ApiKey, Organisation)
            .join(Organisation, Organisation.id == ApiKey.organisation_id)
            .where(ApiKey.prefix == parts[1], ApiKey.revoked_at.is_(None))
        ).first()
        if row is None or not hmac.compare_digest(row[0].key_hash, _key_hash(key)):
            raise invalid
        return _view(row[1])


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.strip().encode("utf-8")).hexdigest()
