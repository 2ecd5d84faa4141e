"""Alembic migrations of the dispatch API database (run by :func:`geodispatch.api.migrate.upgrade`)."""
