"""All user-facing errors of geodispatch, in one place.

Every error a user can cause with bad input is a :class:`GeodispatchError` subclass whose
message says what was wrong and what to do. The CLI prints the message on one line and exits
with code 2; the API turns it into a JSON body ``{"error": code, "detail": message}`` using
:attr:`GeodispatchError.code`. Which HTTP status each error class gets is the API's business
(:data:`geodispatch.api.errors.HTTP_STATUS`), not the core's.
"""

from __future__ import annotations


class GeodispatchError(Exception):
    """Base class of every user-facing geodispatch error."""

    code: str = "geodispatch_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(GeodispatchError):
    """A parameter value is invalid (negative or NaN time, bad list, out of range)."""

    code = "invalid_input"


class SourceNotFoundError(GeodispatchError):
    """A file, region slug or place that was asked for does not exist."""

    code = "not_found"


class UnsupportedFormatError(GeodispatchError):
    """A file has an extension or format geodispatch cannot read."""

    code = "unsupported_format"


class CorruptFileError(GeodispatchError):
    """A file exists but cannot be parsed (broken XML, PBF, GraphML, YAML, CSV, GeoJSON)."""

    code = "corrupt_file"


class RegionConfigError(GeodispatchError):
    """A region YAML file is invalid; the message names the field."""

    code = "invalid_region"


class NoRoadsError(GeodispatchError):
    """The area or file contains no drivable roads."""

    code = "no_roads"


class DownloadError(GeodispatchError):
    """Downloading from OpenStreetMap failed or found nothing."""

    code = "download_failed"


class SnapError(GeodispatchError):
    """Points lie outside the network or farther than the snap limit from any road."""

    code = "off_network"


class OutputError(GeodispatchError):
    """An output file or directory cannot be written."""

    code = "output_error"


class CoverageError(GeodispatchError):
    """Coverage inputs are unusable (no stations, bad population or area files)."""

    code = "coverage_error"


class AssignmentError(GeodispatchError):
    """A dispatch request is invalid (unknown type, duplicate ids, priority out of range)."""

    code = "assignment_error"


class SitingError(GeodispatchError):
    """A siting problem is invalid or infeasible (p too large, demand nobody can cover)."""

    code = "siting_error"


class SimulationError(GeodispatchError):
    """A simulation's inputs are unusable (calls off the network, unknown types, no hospital)."""

    code = "simulation_error"


class AuthenticationError(GeodispatchError):
    """No API key, or an unknown or revoked one."""

    code = "unauthorized"


class PermissionDeniedError(GeodispatchError):
    """The API key's role may not do this."""

    code = "forbidden"


class NotFoundError(GeodispatchError):
    """A unit, station, incident or key that was asked for does not exist."""

    code = "not_found"


class ConflictError(GeodispatchError):
    """The request conflicts with the current state: a unit is no longer available, an id is
    taken, or a status change is not allowed from the current status.

    ``context`` carries machine-readable facts about the conflict (e.g. the unit's current
    assignment); the API adds it to the error body.
    """

    code = "conflict"

    def __init__(self, message: str, code: str | None = None, context: dict[str, object] | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.context = context or {}


class RateLimitedError(GeodispatchError):
    """Too many requests from one client; ``retry_after_s`` says when to try again (seconds)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = int(retry_after_s)


class DatabaseUnavailableError(GeodispatchError):
    """The database cannot be opened: server down, wrong URL, missing directory, not a database
    file."""

    code = "database_unavailable"


class PayloadTooLargeError(GeodispatchError):
    """A request body is larger than the server accepts."""

    code = "payload_too_large"


class ServerBusyError(GeodispatchError):
    """The server refuses more of this kind of work for now (a full planner queue); retry later."""

    code = "busy"
