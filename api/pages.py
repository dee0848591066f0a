"""Server-rendered web pages: search, lot passports, buildings and QR label sheets.

``/search`` and ``/buildings/{reference}`` are also JSON API routes. The page routes
here match only requests whose ``Accept`` header names ``text/html``, as browsers
send, so the same URL returns a page to a browser and JSON to other clients. The
router must be included before the JSON routes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.routing import Match
from starlette.types import Scope
from web3 import Web3

from ledger.chain_check import check_lot
from ledger.db.types import UINT256_MAX
from ledger.errors import InvalidInput, NotFound
from ledger.labels import label_sheet_svg, passport_url
from ledger.queries import (
    building_inventory,
    list_buildings,
    lot_history,
    lot_inspections,
)
from ledger.search import (
    CONDITION_GRADES,
    SORT_ORDERS,
    SearchPage,
    SearchQuery,
    filter_choices,
    search,
)
from ledger.settings import Settings
from ledger.units import Unit, format_mass_kg, format_quantity

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _accepts_html(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"accept":
            return b"text/html" in value
    return False


class HtmlRoute(APIRoute):
    """A route that matches only requests whose ``Accept`` header names HTML."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and not _accepts_html(scope):
            return Match.NONE, {}
        return super().matches(scope)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    env = templates.env
    env.filters["quantity"] = lambda milli, unit: format_quantity(milli, Unit(unit))
    env.filters["mass"] = lambda milligrams: format_mass_kg(milligrams // 1000)
    env.filters["utc"] = _format_utc
    env.filters["checksum"] = lambda address: Web3.to_checksum_address(address)
    env.filters["euros"] = _format_euros
    env.filters["label"] = lambda text: str(text).replace("_", " ")
    env.globals["condition_grades"] = CONDITION_GRADES
    env.globals["sort_orders"] = SORT_ORDERS
    return templates


def _format_utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _format_euros(cents: object) -> str:
    # A lot registered without an off-chain record has no price at all.
    if not isinstance(cents, int):
        return "not given"
    return f"€{cents // 100:,}.{cents % 100:02d}"


def create_pages_router(settings: Settings, engine: Engine) -> APIRouter:
    """Build the router of the HTML pages reading ``engine`` and the chain."""
    router = APIRouter(include_in_schema=False)
    templates = _templates()

    def render(
        request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        response = templates.TemplateResponse(
            request, name, context, status_code=status_code
        )
        response.headers["Vary"] = "Accept"
        return response

    def not_found(request: Request, exc: NotFound) -> HTMLResponse:
        return render(request, "error.html", 404, title="Not found", message=str(exc))

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return render(
            request,
            "home.html",
            buildings=list_buildings(engine),
            choices=filter_choices(engine),
            form={},
        )

    def search_page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        choices = filter_choices(engine)
        try:
            query = SearchQuery.from_params(params)
        except InvalidInput as exc:
            return render(
                request,
                "search.html",
                422,
                form=params,
                choices=choices,
                error=str(exc),
            )
        page = search(engine, query, count_ahead=settings.search_count_ahead)
        return render(
            request,
            "search.html",
            form=params,
            choices=choices,
            page=page,
            previous_url=_page_url(params, page, -1),
            next_url=_page_url(params, page, +1),
        )

    @router.get("/passport/{lot_id}", response_class=HTMLResponse)
    def passport(request: Request, lot_id: int) -> HTMLResponse:
        if not 1 <= lot_id <= UINT256_MAX:
            message = f"Lot id {lot_id} is invalid; lot ids are whole numbers from 1."
            return render(
                request, "error.html", 404, title="Not found", message=message
            )
        try:
            history = lot_history(engine, lot_id)
        except NotFound as exc:
            return not_found(request, exc)
        return render(
            request,
            "passport.html",
            history=history,
            lot=history.lot,
            record=history.lot.record or {},
            building=history.building_record or {},
            inspections=lot_inspections(engine, lot_id),
            check=check_lot(settings, engine, lot_id),
            url=passport_url(settings.public_url, lot_id),
        )

    def building_page(request: Request, reference: str) -> HTMLResponse:
        try:
            row, lots = building_inventory(engine, reference)
        except NotFound as exc:
            return not_found(request, exc)
        return render(
            request,
            "building.html",
            building=row,
            record=row["record"] or {},
            lots=lots,
        )

    # Registered with add_api_route, which takes the route class that .get() lacks.
    for path, endpoint in (
        ("/search", search_page),
        ("/buildings/{reference}", building_page),
    ):
        router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            response_class=HTMLResponse,
            route_class_override=HtmlRoute,
        )

    @router.get("/buildings/{reference}/labels")
    def labels(request: Request, reference: str) -> Response:
        try:
            row, lots = building_inventory(engine, reference)
        except NotFound as exc:
            return not_found(request, exc)
        sheet = label_sheet_svg(row["reference"], lots, settings.public_url)
        return Response(sheet, media_type="image/svg+xml")

    return router


def _page_url(params: dict[str, str], page: SearchPage, step: int) -> str | None:
    target = page.query.page + step
    if step < 0:
        # From past the last page, such as an edited URL, back to the last page.
        target = min(target, page.page_count)
    if not 1 <= target <= page.page_count:
        return None
    return "/search?" + urlencode({**params, "page": str(target)})
