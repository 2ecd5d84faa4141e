"""The operator's console: static files served at ``/console`` (no build step, nothing from a CDN).

``/console/`` is ``geodispatch/api/console/index.html`` with its ES modules and stylesheet;
``/console/leaflet/`` the vendored Leaflet (``geodispatch/static/leaflet``); and
``/console/locale/{lang}.json`` the console's strings (the ``console.*`` keys of
``geodispatch/locale/{lang}.json``, one message table per language).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from geodispatch.errors import NotFoundError

PACKAGE = Path(__file__).resolve().parents[2]
CONSOLE_DIR = PACKAGE / "api" / "console"
LEAFLET_DIR = PACKAGE / "static" / "leaflet"
LOCALE_DIR = PACKAGE / "locale"
LANGUAGES: tuple[str, ...] = ("id", "en")
"""Console languages; the first is the default (Bahasa Indonesia)."""

router = APIRouter(include_in_schema=False)


@cache
def console_messages(lang: str) -> dict[str, str]:
    """The ``console.*`` messages of one language (keys without the prefix)."""
    table: dict[str, Any] = json.loads((LOCALE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return {k.removeprefix("console."): str(v) for k, v in table.items() if k.startswith("console.")}


@router.get("/console")
def console_root() -> RedirectResponse:
    """``/console`` -> ``/console/`` (relative module paths resolve under it)."""
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/locale/{lang}.json")
def console_locale(lang: str) -> JSONResponse:
    """The console's message table for ``lang`` (``id`` or ``en``)."""
    if lang not in LANGUAGES:
        raise NotFoundError(f"no console messages for language {lang!r}; use one of {', '.join(LANGUAGES)}")
    return JSONResponse(console_messages(lang), headers={"Cache-Control": "no-cache"})


def mount_console(app: FastAPI) -> None:
    """Serve the console and its Leaflet under ``/console``."""
    app.include_router(router)
    app.mount("/console/leaflet", StaticFiles(directory=LEAFLET_DIR), name="console-leaflet")
    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
