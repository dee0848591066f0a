"""ASGI application factories for the API benchmark, run by uvicorn ``--factory``."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from ledger.settings import Settings


def reclaim_app() -> FastAPI:
    """Return the project's API reading the mirror named by ``RECLAIM_*`` variables."""
    return create_app(Settings())


def bare_app() -> FastAPI:
    """Return the anchor: a FastAPI app with one route that returns a constant."""
    app = FastAPI()

    @app.get("/constant")
    def constant() -> dict[str, str]:
        return {"status": "ok"}

    return app
