"""Message tables: one per language (``id.json`` Bahasa Indonesia, ``en.json`` English).

Everything a person reads (map titles and legends, table headers, captions, CLI summaries)
comes from these tables; the web console reads the same files (its keys start with
``console.``, the CLI's with ``cli.``, tables' with ``table.``, maps' with ``map.``). JSON
keys and CSV column names are *not* translated: machines read them.

A message is a :meth:`str.format` template: ``text("map.siting.title", "id", region=...)``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from geodispatch.errors import InputError

__all__ = ["LANGS", "check_lang", "messages", "people", "percent", "text"]

LANGS = ("id", "en")
"""Languages with a message table: Bahasa Indonesia and English."""


def check_lang(lang: str) -> str:
    """Validate a language code (``id`` or ``en``, case-insensitive) and return it lower-case.

    Raises
    ------
    InputError
        For any other code.
    """
    code = str(lang).strip().lower()
    if code not in LANGS:
        raise InputError(f"unknown language {lang!r}; use id (Bahasa Indonesia) or en (English)")
    return code


@cache
def messages(lang: str) -> dict[str, str]:
    """The message table of ``lang`` (read once from the package's ``locale/<lang>.json``)."""
    code = check_lang(lang)
    raw = resources.files("geodispatch.locale").joinpath(f"{code}.json").read_text(encoding="utf-8")
    return dict(json.loads(raw))


def text(key: str, lang: str = "en", /, **values: object) -> str:
    """The message ``key`` in ``lang``, formatted with ``values``.

    Raises
    ------
    KeyError
        When the key is missing from the table (a programming error: the tests check that both
        tables have the same keys).
    """
    return messages(lang)[key].format(**values)


def people(value: float, lang: str = "en") -> str:
    """People as a whole number for display (``155,923`` in English, ``155.923`` in Indonesian).

    Population inputs may be fractional (a raster spreads people over cells); figures are kept
    unrounded for computing and rounded only here, for reading.
    """
    whole = f"{round(float(value)):,}"
    return whole.replace(",", ".") if check_lang(lang) == "id" else whole


def percent(share: float, lang: str = "en", digits: int = 0) -> str:
    """A share (0-1) as a percentage (``77.9%`` / ``77,9%``)."""
    out = f"{100 * float(share):.{digits}f}%"
    return out.replace(".", ",") if check_lang(lang) == "id" else out
