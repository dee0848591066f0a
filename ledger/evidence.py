"""Content-addressed store of evidence documents (inspection reports, claim documents).

A document is stored under ``<data dir>/evidence/<sha256 hex of its bytes>``, so the
hash recorded on chain names the file, and a stored file can be checked against its
name at any time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from ledger.errors import InvalidInput, LedgerError, NotFound

logger = logging.getLogger(__name__)

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class EvidenceCorrupted(LedgerError):
    """A stored evidence file no longer matches the hash it is stored under."""


def evidence_dir(data_dir: Path) -> Path:
    """Return the folder of the evidence store."""
    return data_dir / "evidence"


def parse_evidence_hash(text: str) -> str:
    """Return a sha256 hash as 64 lower-case hex digits, accepting a 0x prefix."""
    value = text.strip().lower()
    if value.startswith("0x"):
        value = value[2:]
    if not _SHA256_HEX.fullmatch(value):
        raise InvalidInput(
            f"{text!r} is not a sha256 hash; give 64 hex digits, with or without 0x."
        )
    return value


def add_evidence(data_dir: Path, content: bytes) -> str:
    """Store ``content`` and return its sha256 hex; storing it again changes nothing."""
    digest = hashlib.sha256(content).hexdigest()
    folder = evidence_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / digest
    if path.exists():
        return digest

    # Write to a temporary file and rename, so a reader never sees a partial file.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("Stored evidence %s (%d bytes)", digest, len(content))
    return digest


def add_evidence_file(data_dir: Path, path: Path) -> str:
    """Store the file at ``path``; return its sha256 hex."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"Cannot read evidence file {path}: {exc.strerror}."
        ) from exc
    return add_evidence(data_dir, content)


def read_evidence(data_dir: Path, digest: str) -> bytes:
    """Return the stored document with sha256 ``digest``, checking its content.

    Raises NotFound when no such document is stored and EvidenceCorrupted when the
    file's content no longer has that hash.
    """
    name = parse_evidence_hash(digest)
    path = evidence_dir(data_dir) / name
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(
            f"No evidence document with sha256 {name} is stored; add it with "
            "'reclaim evidence add FILE'."
        ) from None
    actual = hashlib.sha256(content).hexdigest()
    if actual != name:
        logger.error(
            "Evidence file %s has sha256 %s, not its name; it was changed on disk",
            path,
            actual,
        )
        raise EvidenceCorrupted(
            f"The stored evidence document {name} was changed on disk (its sha256 is "
            f"now {actual}); restore the original file from a backup."
        )
    return content
