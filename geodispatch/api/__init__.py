"""The dispatch HTTP API (FastAPI + SQLAlchemy): units, stations, incidents, dispatch, audit.

Start it with ``geodispatch serve SOURCE --db URL``; build the app in Python with
:func:`geodispatch.api.app.create_app`. Needs the ``[api]`` extra.
"""

from geodispatch.api.app import create_app

__all__ = ["create_app"]
