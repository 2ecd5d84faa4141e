"""Key creation for the command line (``geodispatch keys create``)."""

from __future__ import annotations

from geodispatch.api.auth import SYSTEM, check_role, create_key
from geodispatch.api.db import Database
from geodispatch.api.service import audit


def create_key_cli(
    db_url: str, role: str, unit_id: str | None = None, label: str = "", agency_id: str | None = None
) -> str:
    """Migrate the database if needed, store a new key's hash and return the key.

    Parameters
    ----------
    db_url : str
        Database URL.
    role : str
        dispatcher, unit, planner or admin.
    unit_id : str, optional
        For role ``unit``: the unit the key may act on.
    label : str
        Free text.
    agency_id : str, optional
        For role ``agency``: the agency the key acts for (an id of the region's ``agencies``).

    Returns
    -------
    str
        The key in clear (shown once).
    """
    check_role(role, unit_id, agency_id)
    db = Database(db_url)
    try:
        db.upgrade()
        with db.write() as session:
            key, row = create_key(session, role, unit_id, label or "created with geodispatch keys create", agency_id)
            audit(session, SYSTEM, "key.create", "key", row.id, None,
                  {"role": role, "unit_id": unit_id, "agency_id": agency_id})
    finally:
        db.dispose()
    return key
