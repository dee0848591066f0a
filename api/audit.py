"""Routes for claims, their audit reports, lot inspections and evidence documents.

Claims and inspections come from the mirror. Reports are recomputed from the chain on
each request, as ``reclaim audit`` does, so they need a reachable node.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine
from web3 import Web3

from api.market import key_owner
from ledger.chain.connection import connect, rpc_url
from ledger.context import Ledger
from ledger.contracts.deployment import load_deployment
from ledger.db.types import UINT256_MAX
from ledger.evidence import EvidenceCorrupted, add_evidence, read_evidence
from ledger.organisations import OrganisationView
from ledger.queries import claim_details, lot_inspections
from ledger.settings import Settings

logger = logging.getLogger(__name__)

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024


def _jsonable(value: Any) -> Any:
    """Turn query results into JSON: big integers as decimal strings, dates ISO 8601."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return str(value) if value > 2**53 else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _connect(settings: Settings, engine: Engine) -> Ledger:
    """Connect to the running chain and its registry, never starting a local chain."""
    url = rpc_url(settings)
    w3 = connect(url)
    return Ledger(
        settings,
        w3,
        url,
        load_deployment(w3, settings.data_dir),
        engine,
        logger.warning,
    )


ClaimId = Annotated[
    int, Path(ge=1, le=UINT256_MAX, description="Claim id, from 1 as registered.")
]


def _too_large(size: str) -> HTTPException:
    return HTTPException(
        413,
        f"The document has {size} bytes; the limit is {MAX_EVIDENCE_BYTES} bytes. "
        "Send a smaller document.",
    )


async def _read_limited_body(request: Request) -> bytes:
    """Read a request body of at most MAX_EVIDENCE_BYTES, else raise 413.

    Content-Length is checked before reading, and the stream is read chunk by chunk,
    so a larger body (or one with a false or missing length) never sits in memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(
                400, f"Content-Length {declared!r} is not a number of bytes."
            )
        if int(declared) > MAX_EVIDENCE_BYTES:
            raise _too_large(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_EVIDENCE_BYTES:
            raise _too_large(f"more than {MAX_EVIDENCE_BYTES}")
        chunks.append(chunk)
    content = b"".join(chunks)
    if not content:
        raise HTTPException(
            422, "The request body is empty; send the document as the body."
        )
    return content


def audit_router(settings: Settings, engine: Engine) -> APIRouter:
    """Build the router; ``engine`` reads the mirror named by ``settings``."""
    router = APIRouter(tags=["audit"])

    @router.get("/claims/{claim_id}")
    def claim(claim_id: ClaimId) -> dict[str, Any]:
        """Return a claim, the installations into its building and its decisions."""
        found = claim_details(engine, claim_id)
        found["owner"] = Web3.to_checksum_address(found["owner"])
        return dict(_jsonable(found))

    @router.get("/claims/{claim_id}/report.{fmt}")
    def report(claim_id: ClaimId, fmt: str) -> Response:
        """Return the claim's audit recomputed from the chain, as json, html or pdf."""
        from ledger.audit.render import render_html, render_json, render_pdf
        from ledger.audit.service import audit_claim

        if fmt not in ("json", "html", "pdf"):
            raise HTTPException(
                404, f"Report format {fmt!r} is unknown; use json, html or pdf."
            )
        result = audit_claim(_connect(settings, engine), claim_id)
        if fmt == "json":
            return Response(render_json(result), media_type="application/json")
        if fmt == "html":
            return HTMLResponse(render_html(result))
        return Response(
            render_pdf(result),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="claim-{claim_id}.pdf"'},
        )

    @router.get("/lots/{lot_id}/inspections")
    def inspections(lot_id: int) -> dict[str, Any]:
        """Return a lot's inspections with their revocations."""
        if lot_id < 1:
            raise HTTPException(422, f"Lot id {lot_id} must be at least 1.")
        rows = lot_inspections(engine, lot_id)
        for row in rows:
            row["inspector"] = Web3.to_checksum_address(row["inspector"])
        return {"lot_id": lot_id, "inspections": _jsonable(rows)}

    @router.get("/evidence/{digest}")
    def evidence(digest: str) -> Response:
        """Return a stored evidence document after checking its sha256."""
        try:
            content = read_evidence(settings.data_dir, digest)
        except EvidenceCorrupted as exc:
            return JSONResponse(status_code=409, content={"detail": str(exc)})
        return Response(content, media_type="application/octet-stream")

    key_holder = key_owner(engine)

    @router.post("/evidence", status_code=201)
    async def add(
        request: Request,
        organisation: OrganisationView = Depends(key_holder),  # noqa: B008
    ) -> dict[str, Any]:
        """Store the request body as an evidence document; return its sha256.

        Any organisation's API key may add evidence; the document is named by its
        hash, so no upload can replace another document.
        """
        content = await _read_limited_body(request)
        digest = add_evidence(settings.data_dir, content)
        logger.info("Evidence %s added by %s", digest, organisation.actor_id)
        return {"sha256": digest, "size": len(content)}

    return router
