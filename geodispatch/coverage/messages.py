"""Warnings of a coverage run, readable in every language and by machines.

A :class:`CoverageWarning` is a message key (``code``) and its values; :meth:`~CoverageWarning.message`
renders it from the message tables of :mod:`geodispatch.locale` (``coverage.warning.<code>``) in
Bahasa Indonesia or English. ``summary.json`` keeps the code, the values and the English text
(machines read it); the CLI prints the warning in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["WARNING_CODES", "CoverageWarning"]

WARNING_CODES = ("no_station", "stations_off_network", "points_off_road", "areas_without_road", "people_in_no_area")
"""Every code a coverage run may warn with (each has a ``coverage.warning.<code>`` message)."""


@dataclass
class CoverageWarning:
    """One warning: a code and the values its message shows.

    Values are plain numbers and strings; a number whose name ends in ``_m`` is shown as metres
    (``1000``), every other number as a whole count (``1,234`` / ``1.234``).

    Attributes
    ----------
    code : str
        One of :data:`WARNING_CODES`.
    values : dict
        The message's placeholders.
    """

    code: str
    values: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str:
        """The warning in ``lang`` (``id`` or ``en``)."""
        from geodispatch.locale import text

        return text(f"coverage.warning.{self.code}", lang, **{k: _show(k, v, lang) for k, v in self.values.items()})

    def to_json(self) -> dict[str, Any]:
        """``{"code", "message" (English), "values"}`` for ``summary.json``."""
        return {"code": self.code, "message": self.message("en"), "values": dict(self.values)}

    def __str__(self) -> str:
        return self.message("en")


def _show(name: str, value: Any, lang: str) -> str:
    from geodispatch.locale import people

    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if name.endswith("_m"):
        shown = f"{value:g}"
        return shown.replace(".", ",") if lang == "id" else shown
    return people(value, lang)
