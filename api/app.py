"""The web service: lot histories, search, building inventories and health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from api.audit import audit_router
from api.market import (
    OFFSET_MAX,
    create_market_router,
    register_error_handlers,
)
from api.pages import STATIC_DIR, create_pages_router
from api.passport import HistoryCache, history_body, lot_json
from ledger.chain.accounts import parse_address
from ledger.chain.connection import rpc_url
from ledger.context import open_engine
from ledger.db.engine import is_memory_database, make_engine
from ledger.db.types import UINT256_MAX
from ledger.errors import ConfigurationError, InvalidInput, LedgerError, NotFound
from ledger.indexer.rpc import RpcClient
from ledger.memory import freeze_loaded_objects
from ledger.queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    building_inventory,
    indexer_status,
    search_lots,
)
from ledger.search import DEFAULT_PAGE_SIZE as SEARCH_PAGE_SIZE
from ledger.search import MAX_PAGE_SIZE as SEARCH_MAX_PAGE_SIZE
from ledger.search import SearchQuery, search
from ledger.settings import Settings, load_settings
from ledger.verify import verify_mirror

# Text without control characters: PostgreSQL cannot compare text containing NUL.
PRINTABLE = r"^[^\x00-\x1f]*$"


_SEARCH_PARAMETERS = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }
    for name, description in [
        (
            "q",
            "Words of the lot's record and origin building, matched as written in "
            "any language with accents and case ignored. Nothing is translated.",
        ),
        ("category", "Element category registered on chain, such as doors."),
        ("material", "Material in the lot's record, such as oak."),
        ("condition", "Minimum condition grade: A, B or C (B matches A and B)."),
        ("min_quantity", "Minimum registered quantity, in the lot's unit."),
        ("max_price", "Maximum estimated unit price in euros."),
        ("available_by", "Latest availability date, YYYY-MM-DD."),
        ("lat", "Latitude of the point, in decimal degrees."),
        ("lon", "Longitude of the point, in decimal degrees."),
        ("within_km", "Maximum distance in km from lat and lon."),
        ("sort", "lot (default), distance, price or date."),
        ("page", "Page number, from 1."),
        (
            "page_size",
            f"Lots per page, 1 to {SEARCH_MAX_PAGE_SIZE}; default {SEARCH_PAGE_SIZE}.",
        ),
    ]
]


def _chain_status(settings: Settings) -> dict[str, Any]:
    """Return the node's head block, or why it cannot be read, within about a second."""
    try:
        node = RpcClient(rpc_url(settings), timeout=1.0, retry_seconds=0.01)
    except LedgerError as exc:
        return {"head": None, "detail": str(exc)}
    try:
        return {"head": node.block_number(), "detail": None}
    except LedgerError as exc:
        return {"head": None, "detail": str(exc)}
    finally:
        node.close()


def check_workers(settings: Settings, workers: int) -> None:
    """Raise ConfigurationError unless ``workers`` processes can share the mirror.

    Each worker opens the mirror itself, so an in-memory SQLite database would be a
    separate, empty one in every worker. Workers on one SQLite file or PostgreSQL
    database take the market lock (ledger.locks) around each check-then-write.
    """
    if workers == 1:
        return
    # make_engine raises ConfigurationError for an invalid URL; it does not connect.
    url = make_engine(settings.resolved_database_url).url
    if is_memory_database(url):
        raise ConfigurationError(
            f"--workers {workers} needs a mirror that the workers share, but "
            f"{url.render_as_string(hide_password=True)!r} is an in-memory SQLite "
            "database, so each worker would have its own. Use --workers 1, or set "
            "RECLAIM_DATABASE_URL to a SQLite file or a PostgreSQL database."
        )


def create_app_from_environment() -> FastAPI:
    """Build the application from RECLAIM_* variables and .env, as a worker does."""
    app = create_app(load_settings())
    freeze_loaded_objects()
    return app


def create_app(settings: Settings) -> FastAPI:
    """Build the FastAPI application reading the mirror named by ``settings``."""
    engine = open_engine(settings)
    app = FastAPI(
        title="Reclaim Ledger",
        description="Provenance of reclaimed building materials.",
        version="0.1.0",
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Included before the JSON routes, because its /search and /buildings/{reference}
    # pages handle the requests that accept HTML and the JSON routes handle the rest.
    app.include_router(create_pages_router(settings, engine))

    register_error_handlers(app)
    app.include_router(create_market_router(settings, engine))

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(InvalidInput)
    async def invalid(_request: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(LedgerError)
    async def ledger_error(_request: Request, exc: LedgerError) -> JSONResponse:
        return JSONResponse(
            status_code=503, content={"detail": f"{type(exc).__name__}: {exc}"}
        )

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Service status, the indexer's last block and the chain's head.

        ``chain.head`` is null when the node does not respond; pages then cannot check
        passports against the chain, and writes fail until it runs again.
        """
        status = indexer_status(engine)
        return {
            "status": "ok",
            "indexer": status,
            "last_block": status["last_block"] if status else None,
            "chain": _chain_status(settings),
        }

    history_cache = HistoryCache()

    @app.get("/lots/{lot_id}/history", response_model=dict[str, Any])
    def history(lot_id: Annotated[int, Path(le=UINT256_MAX)]) -> Response:
        """Return a lot's origin and every step in chain order.

        Steps are custody transfers, installations, disposals, splits and merges,
        named by each step's ``kind``.
        """
        if lot_id < 1:
            raise HTTPException(422, f"Lot id {lot_id} must be at least 1.")
        # The body is encoded here, not by FastAPI, so that cached bodies are sent
        # as they are; the response model above documents it.
        return Response(
            history_body(engine, history_cache, lot_id), media_type="application/json"
        )

    @app.get("/lots")
    def lots(
        category: str | None = Query(None, pattern=PRINTABLE),
        building: str | None = Query(
            None, description="Building reference.", pattern=PRINTABLE
        ),
        holder: str | None = Query(None, description="Holder address, any case."),
        limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
        offset: int = Query(0, ge=0, le=OFFSET_MAX),
    ) -> dict[str, Any]:
        """Lots filtered by category, building and holder, with the total count."""
        address = parse_address(holder).lower() if holder else None
        total, page = search_lots(engine, category, building, address, limit, offset)
        return {"total": total, "lots": [lot_json(lot) for lot in page]}

    @app.get("/verify")
    def verify() -> dict[str, Any]:
        """Compare the mirror with the live chain at the mirror's checkpoint block.

        Lists every difference in lot records, balances and event counts per block
        range; ``ok`` is true when there is none.
        """
        node = RpcClient(rpc_url(settings), retry_seconds=settings.rpc_retry_seconds)
        try:
            return verify_mirror(engine, node, log_range=settings.log_range).as_json()
        finally:
            node.close()

    # The parameters are parsed by SearchQuery.from_params, shared with the search
    # page, so they are listed here for the OpenAPI documentation only.
    @app.get("/search", openapi_extra={"parameters": _SEARCH_PARAMETERS})
    def search_lots_route(request: Request) -> dict[str, Any]:
        """Search lots by words, fields and distance; browsers get the search page.

        ``total`` counts the matching lots exactly when ``total_exact`` is true.
        Otherwise more than ``total`` lots match, and ``page_count`` counts the
        pages known to hold lots.
        """
        query = SearchQuery.from_params(dict(request.query_params))
        page = search(engine, query, count_ahead=settings.search_count_ahead)
        return {
            "total": page.total,
            "total_exact": page.exact,
            "page": page.query.page,
            "page_size": page.query.page_size,
            "page_count": page.page_count,
            "results": [
                {**lot_json(hit.lot), "distance_km": hit.distance_km}
                for hit in page.hits
            ],
        }

    @app.get("/buildings/{reference}")
    def building(
        reference: Annotated[str, Path(pattern=PRINTABLE)],
    ) -> dict[str, Any]:
        """Return a building's record and its inventory of lots."""
        row, inventory = building_inventory(engine, reference)
        return {
            **row,
            "registered_at": row["registered_at"].isoformat(),
            "lots": [lot_json(lot) for lot in inventory],
        }

    app.include_router(audit_router(settings, engine))
    return app
