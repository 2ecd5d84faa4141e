"""The audit log: append-only in the database, hash-chained, and verifiable.

Every row stores ``prev_hash`` (the ``hash`` of the row before it, by id; 64 zeros for the
first) and ``hash = SHA-256(prev_hash + canonical JSON of the row's content)``. Appends are
serialised (SQLite: the single writer; PostgreSQL: a transaction-level advisory lock held
until commit), so the rows form one chain in id order.

The database refuses UPDATE, DELETE, ``INSERT OR REPLACE`` over an existing row (SQLite
triggers) and TRUNCATE (PostgreSQL statement trigger; the migrating role also loses its
UPDATE/DELETE/TRUNCATE rights). Someone with full rights can drop those guards; then
:func:`verify` still finds the first row that was changed, inserted or removed, unless they
recomputed every later hash: record the head that ``geodispatch audit verify`` prints
somewhere else (a ticket, a printout) and pass it back with ``--head`` to pin the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select, text
from sqlalchemy.orm import Session

from geodispatch.api.models import AuditEntry

GENESIS = "0" * 64
"""``prev_hash`` of the first row."""

_AUDIT = cast(Table, AuditEntry.__table__)
_CONTENT = ("at", "key_id", "role", "action", "entity_type", "entity_id", "before", "after")
_PG_LOCK = 0x6764_6175  # "gdau": the advisory lock key of audit appends
CHAIN_LOCKED = "geodispatch_chain_locked"
"""``session.info`` key: this PostgreSQL transaction holds the chain's lock (until it ends)."""
# built once: a statement object reused keeps its compiled form and cache key
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_HEAD = select(_AUDIT.c.hash).order_by(_AUDIT.c.id.desc()).limit(1)
_INSERT = insert(_AUDIT)


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):  # SQLite's text, read without the column type
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(prev_hash: str, row: Any) -> str:
    """SHA-256 hex of ``prev_hash`` and the row's content (a mapping or an object with the fields)."""
    content = {name: (row[name] if isinstance(row, dict) else getattr(row, name)) for name in _CONTENT}
    content["at"] = _iso(content["at"])
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256((prev_hash + blob).encode("utf-8")).hexdigest()


def append(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Append audit rows at the end of the chain, in the caller's write transaction.

    Call it as the transaction's last locking step (PostgreSQL: it holds the chain's lock until
    commit, so appends of concurrent transactions queue here, never in a lock cycle).

    Parameters
    ----------
    session : Session
        An open write session.
    rows : iterable of dict
        Each with ``at`` (datetime), ``key_id``, ``role``, ``action``, ``entity_type``,
        ``entity_id``, ``before`` and ``after``.
    """
    rows = list(rows)
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql" and not session.info.get(CHAIN_LOCKED):
        session.execute(_LOCK, {"key": _PG_LOCK})
        session.info[CHAIN_LOCKED] = True
    prev = session.execute(_HEAD).scalar() or GENESIS
    chained = []
    for row in rows:
        digest = row_hash(prev, row)
        chained.append({**row, "prev_hash": prev, "hash": digest})
        prev = digest
    session.execute(_INSERT, chained)


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found.

    Attributes
    ----------
    intact : bool
        The chain is unbroken (and ends at ``--head`` when one was given).
    rows : int
        Rows read.
    head : str
        The hash of the last row (``GENESIS`` for an empty log).
    last_id : int or None
        Id of the last row.
    problem : str
        The first break, in words (empty when intact).
    row_id : int or None
        The id of the row where the first break shows.
    """

    intact: bool
    rows: int
    head: str
    last_id: int | None
    problem: str = ""
    row_id: int | None = None


def verify(engine: Engine, head: str | None = None, batch: int = 5000) -> Verdict:
    """Walk the chain in id order and report the first row changed, inserted or removed.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The database (read only; works with the triggers dropped).
    head : str, optional
        ``ID:HASH`` (or ``HASH``) recorded earlier: the row with that hash must still be in the
        chain (at that id), which detects later rewrites of the whole chain.
    batch : int
        Rows read per query.

    Returns
    -------
    Verdict
    """
    want_id, want_hash = _parse_head(head)
    prev_hash, prev_id = GENESIS, None
    rows = 0
    pending: Any = None  # a row whose link is broken: removed rows before it, or itself inserted?
    seen_head = want_hash is None
    last_id = 0
    columns = [_AUDIT.c.id, _AUDIT.c.prev_hash, _AUDIT.c.hash, *(_AUDIT.c[name] for name in _CONTENT)]
    with engine.connect() as conn:
        while True:
            chunk = conn.execute(
                select(*columns).where(_AUDIT.c.id > last_id).order_by(_AUDIT.c.id).limit(batch)
            ).all()
            if not chunk:
                break
            for row in chunk:
                rows += 1
                last_id = row.id
                if pending is not None:
                    # the row after a broken link: does it link to the last good row?
                    if row.prev_hash == prev_hash and row_hash(prev_hash, row) == row.hash:
                        return _broken(rows, row, f"row {pending.id} was inserted (the rows around it link to "
                                                   f"each other{_after(prev_id)})", pending.id)
                    return _broken(rows, row, _gap(prev_id, pending.id), pending.id)
                if row.prev_hash != prev_hash:
                    pending = row
                    continue
                if row.hash != row_hash(prev_hash, row):
                    return _broken(rows, row, f"row {row.id} was changed (its content does not match its hash)",
                                   row.id)
                if want_hash is not None and row.hash == want_hash:
                    if want_id is not None and row.id != want_id:
                        return _broken(rows, row, f"the recorded head is now row {row.id}, not row {want_id}",
                                       row.id)
                    seen_head = True
                prev_hash, prev_id = row.hash, row.id
    if pending is not None:  # the last row's link is broken
        return _broken(rows, pending, f"row {pending.id} was inserted, or " + _gap(prev_id, pending.id), pending.id)
    if not seen_head:
        where = f"row {want_id}" if want_id is not None else "a row"
        return Verdict(False, rows, prev_hash, prev_id,
                       f"the recorded head ({where} with hash {want_hash}) is not in the chain: rows were removed "
                       "or the chain was rewritten", want_id)
    return Verdict(True, rows, prev_hash, prev_id)


def _gap(prev_id: int | None, row_id: int) -> str:
    if prev_id is None:
        return f"rows were removed before row {row_id} (it does not start the chain)"
    return (f"rows were removed between row {prev_id} and row {row_id}, or row {prev_id} was changed and its hash "
            f"recomputed (row {row_id} does not link to it)")


def _after(prev_id: int | None) -> str:
    return f"; the last good row is {prev_id}" if prev_id is not None else "; no good row before it"


def _broken(rows: int, row: Any, problem: str, row_id: int) -> Verdict:
    return Verdict(False, rows, row.hash, row.id, problem, row_id)


def _parse_head(head: str | None) -> tuple[int | None, str | None]:
    if not head:
        return None, None
    from geodispatch.errors import InputError

    ident, _, digest = head.strip().rpartition(":")
    digest = digest.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(f"--head expects ID:HASH or HASH (64 hex characters), got {head!r}")
    if not ident:
        return None, digest
    if not ident.isdigit():
        raise InputError(f"--head expects ID:HASH with a numeric id, got {head!r}")
    return int(ident), digest


def verify_database(db_url: str, head: str | None = None) -> Verdict:
    """:func:`verify` on the database at ``db_url`` (for ``geodispatch audit verify``).

    Raises
    ------
    DatabaseUnavailableError
        When the database cannot be read, or has no hash-chained audit log (never served).
    """
    from sqlalchemy.exc import DBAPIError

    from geodispatch.api.db import make_engine
    from geodispatch.errors import DatabaseUnavailableError

    _parse_head(head)  # a malformed --head is a usage error before any connection
    engine = make_engine(db_url)
    try:
        return verify(engine, head)
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())
        raise DatabaseUnavailableError(
            f"cannot read the audit log of {db_url!r}: {reason}; check the URL, and that "
            "'geodispatch serve' or 'geodispatch keys create' has created the schema there"
        ) from exc
    finally:
        engine.dispose()
