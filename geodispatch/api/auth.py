"""API keys and roles.

A key looks like ``gdk_<prefix>_<secret>``: 8 hex characters of prefix (stored in clear, to find
the key's row) and 43 URL-safe characters of secret (256 bits from :mod:`secrets`). Only the
SHA-256 hash of the whole key is stored; a fast hash is enough because the secret is random
and long, not a password a person chose. Comparison is constant-time.

Roles:

``dispatcher``
    Incidents (create, dispatch, lifecycle), read units and stations, reach, coverage.
``unit``
    Its own unit only (the key is bound to one unit id): read it, update its status and position.
``planner``
    Read-only: units, stations, incidents, reach, coverage.
``admin``
    Everything, including keys, stations, units and the audit log.
``agency``
    One agency's (OPD's) operator, bound to its agency id: the incidents forwarded to it
    (read, acknowledge, dispatch its own units) and its own units; nothing else.

There is no built-in or default key: the first one is made with ``geodispatch keys create``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from geodispatch.api.models import ROLES, ApiKey, utcnow
from geodispatch.errors import AuthenticationError, InputError, PermissionDeniedError

_KEY_RE = re.compile(r"^gdk_([0-9a-f]{8})_([A-Za-z0-9_-]{20,})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, role and (for role ``unit``) the unit it is bound to."""

    key_id: int | None
    role: str
    unit_id: str | None = None
    agency_id: str | None = None

    def allow(self, *roles: str) -> None:
        """Raise :class:`PermissionDeniedError` unless the role is one of ``roles`` or admin."""
        if self.role != "admin" and self.role not in roles:
            need = ", ".join((*roles, "admin"))
            raise PermissionDeniedError(f"this needs a key with role {need}; your key has role {self.role!r}")

    def allow_unit(self, unit_id: str, *roles: str) -> None:
        """Allow ``roles`` (and admin), or a ``unit`` key bound to ``unit_id``."""
        if self.role == "unit":
            if self.unit_id != unit_id:
                raise PermissionDeniedError(
                    f"this key belongs to unit {self.unit_id!r} and may only act on that unit, not {unit_id!r}"
                )
            return
        self.allow(*roles)


SYSTEM = Principal(key_id=None, role="admin")
"""The principal of changes made by the command line (``keys create``)."""


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_role(role: str, unit_id: str | None, agency_id: str | None = None) -> None:
    """Validate a role (and the unit id a ``unit`` key, the agency id an ``agency`` key needs).

    Raises
    ------
    InputError
        For an unknown role, a ``unit`` key without a unit id, an ``agency`` key without an
        agency id, or a unit / agency id on another role.
    """
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    if role == "unit" and not unit_id:
        raise InputError("a key with role 'unit' must name its unit (--unit UNIT_ID)")
    if role != "unit" and unit_id:
        raise InputError(f"only keys with role 'unit' are bound to a unit; drop the unit id for role {role!r}")
    if role == "agency" and not agency_id:
        raise InputError("a key with role 'agency' must name its agency (--agency AGENCY_ID; see GET /agencies)")
    if role != "agency" and agency_id:
        raise InputError(f"only keys with role 'agency' are bound to an agency; drop the agency for role {role!r}")


def create_key(
    session: Session, role: str, unit_id: str | None = None, label: str = "", agency_id: str | None = None
) -> tuple[str, ApiKey]:
    """Make a new key and store its hash (the caller commits).

    Parameters
    ----------
    session : Session
        An open write session.
    role : str
        One of :data:`~geodispatch.api.models.ROLES`.
    unit_id : str, optional
        The unit a ``unit`` key may act on.
    label : str
        Free text (who holds the key).
    agency_id : str, optional
        The agency an ``agency`` key acts for.

    Returns
    -------
    key : str
        The key in clear: shown once, never stored.
    row : ApiKey
        The stored row.
    """
    check_role(role, unit_id, agency_id)
    while True:
        prefix = secrets.token_hex(4)
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    key = f"gdk_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        prefix=prefix, key_hash=hash_key(key), role=role, unit_id=unit_id, agency_id=agency_id, label=label,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return key, row


def bearer_token(header: str | None) -> str:
    """The key in an ``Authorization: Bearer <key>`` header.

    Raises
    ------
    AuthenticationError
        When the header is missing or not a bearer token.
    """
    if not header:
        raise AuthenticationError(
            "no API key: send the header 'Authorization: Bearer <key>' (make one with geodispatch keys create)"
        )
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <key>'")
    return token.strip()


def authenticate(session: Session, key: str) -> Principal:
    """Look a key up by prefix and check its hash.

    Raises
    ------
    AuthenticationError
        For a malformed, unknown or revoked key.
    """
    match = _KEY_RE.match(key)
    if match is None:
        raise AuthenticationError("invalid API key (expected gdk_<prefix>_<secret>)")
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        raise AuthenticationError("invalid API key")
    if row.revoked_at is not None:
        raise AuthenticationError(f"API key {row.prefix} was revoked; ask an admin for a new one")
    return Principal(key_id=row.id, role=row.role, unit_id=row.unit_id, agency_id=row.agency_id)
