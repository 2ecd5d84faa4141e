"""What the console draws besides live state: the region served, its roads and its desa.

``GET /me``: the calling key's role (and unit, for a unit key; agency, for an agency key).
``GET /region``: name, bounding box, incident types with their SOP, unit types, statuses, the
scenario's stations and its sea crossings (ferries and speedboat links, drawn dashed).
``GET /roads``: road polylines from the server's own network, arterials whole, minor roads only
inside a bounding box (a 100,000-node regency stays fluid).
``GET /areas``: desa/kelurahan polygons with their names (the console's village picker and its
coverage layer). All three are computed once per server and served from memory.
"""

from __future__ import annotations

import gzip
import json
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from geodispatch.api.deps import PrincipalDep, RuntimeDep
from geodispatch.api.runtime import Runtime
from geodispatch.api.state import INCIDENT_STATUSES, INCIDENT_TRANSITIONS, UNIT_STATUSES
from geodispatch.errors import InputError

router = APIRouter(tags=["map"])

MAX_MINOR_ROADS = 20_000
"""Most minor roads one ``GET /roads?level=minor`` returns (the console asks when zoomed in)."""

MAX_MINOR_BBOX_DEG2 = 0.25
"""Largest bounding box (square degrees, about 55 x 55 km) a minor-road query may cover."""

_LOCK = threading.RLock()


def _cached(runtime: Runtime, key: str, build: Any) -> Any:
    """``runtime.extras[key]``, built once (under a lock) by ``build()``."""
    value = runtime.extras.get(key)
    if value is None:
        with _LOCK:
            value = runtime.extras.get(key)
            if value is None:
                value = runtime.extras[key] = build()
    return value


def _json_response(request: Request, body: bytes, zipped: bytes | None = None) -> Response:
    """A JSON response, gzip-encoded when the client accepts it and a zipped body is given."""
    headers = {"Cache-Control": "private, max-age=3600", "Vary": "Accept-Encoding"}
    if zipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(zipped, media_type="application/json", headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")


def region_info(runtime: Runtime) -> dict[str, Any]:
    """The region's description for the console (see ``GET /region``)."""
    from geodispatch.assign.model import resolve_sop
    from geodispatch.domain import UNIT_TYPES
    from geodispatch.network.sea import crossings_json

    scenario = runtime.scenario
    west, south, east, north = runtime.network.bbox
    sop = resolve_sop(scenario.sop or None)
    return {
        "name": scenario.name,
        "synthetic": bool(scenario.synthetic),
        "bbox": [west, south, east, north],
        "nodes": int(runtime.network.n_nodes),
        "target_response_s": float(scenario.target_response_s),
        "incident_types": {
            name: [{"type": r.type, "count": r.count, "capabilities": list(r.capabilities)} for r in reqs]
            for name, reqs in sop.items()
        },
        "unit_types": list(UNIT_TYPES),
        "unit_statuses": list(UNIT_STATUSES),
        "incident_statuses": list(INCIDENT_STATUSES),
        "incident_transitions": {k: sorted(v, key=INCIDENT_STATUSES.index) for k, v in INCIDENT_TRANSITIONS.items()},
        "stations": [
            {"id": s.id, "name": s.name, "type": s.type, "lon": s.lon, "lat": s.lat} for s in scenario.stations
        ],
        # ferries and sea links: drawn dashed on the live map, never as roads (each boat once)
        "sea": crossings_json(runtime.network),
        "has_areas": scenario.areas is not None and len(scenario.areas) > 0,
        "has_population": scenario.population is not None,
    }


@router.get("/me")
def me(who: PrincipalDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The calling key: its role and, for a ``unit`` key, its unit; for an ``agency`` key, its
    agency's id and name (any valid key)."""
    agency = next((a for a in runtime.scenario.agencies if a.id == who.agency_id), None)
    return {"role": who.role, "unit_id": who.unit_id, "key_id": who.key_id, "agency_id": who.agency_id,
            "agency_name": agency.name if agency is not None else who.agency_id}


@router.get("/region")
def region(who: PrincipalDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The region served: name, bbox (degrees), incident types and their SOP, unit types, statuses, stations.

    Any valid key may read it.
    """
    return _cached(runtime, "console_region", lambda: region_info(runtime))  # type: ignore[no-any-return]


def _road_lines(runtime: Runtime) -> Any:
    from geodispatch.network.lines import RoadLines

    return _cached(runtime, "road_lines", lambda: RoadLines(runtime.network))


def _arterial_bytes(runtime: Runtime) -> tuple[bytes, bytes]:
    def build() -> tuple[bytes, bytes]:
        body = _dumps(_road_lines(runtime).to_json("arterial"))
        return body, gzip.compress(body, compresslevel=5)

    return _cached(runtime, "road_lines_arterial", build)  # type: ignore[no-any-return]


_NUMBER = r"-?[0-9]+(\.[0-9]+)?"
_BBOX_PATTERN = rf"^{_NUMBER}(,{_NUMBER}){{3}}$"


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``west,south,east,north`` (degrees) -> a tuple; 422 when malformed or too large."""
    try:
        w, s, e, n = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"bbox must be west,south,east,north in degrees, got {text!r}") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InputError(f"bbox {text!r} is not west < east, south < north within -180..180, -90..90")
    if (e - w) * (n - s) > MAX_MINOR_BBOX_DEG2:
        raise InputError(f"bbox {text!r} is too large for minor roads (at most {MAX_MINOR_BBOX_DEG2} square degrees)")
    return w, s, e, n


@router.get("/roads")
def roads(
    request: Request,
    who: PrincipalDep,
    runtime: RuntimeDep,
    level: Annotated[
        Literal["arterial", "minor"], Query(description="'arterial' (whole network) or 'minor' (needs bbox)")
    ] = "arterial",
    bbox: Annotated[str | None, Query(description="west,south,east,north, degrees (for level=minor)",
                                      pattern=_BBOX_PATTERN)] = None,
) -> Response:
    """Road polylines of the served network, each two-way road once.

    ``{"level", "classes": [...], "class": [index per road], "coords": [[lon0, lat0, lon1, lat1, ...]],
    "truncated"}``. Arterials (motorway, trunk, primary, secondary and their links) come whole;
    minor roads only inside ``bbox`` (at most 20,000; ``truncated`` says when there were more).
    """
    if level == "arterial":
        body, zipped = _arterial_bytes(runtime)
        return _json_response(request, body, zipped)
    if bbox is None:
        raise InputError("level=minor needs bbox=west,south,east,north (degrees)")
    box = parse_bbox(bbox)
    return _json_response(request, _dumps(_road_lines(runtime).to_json("minor", box, MAX_MINOR_ROADS)))


def areas_geojson(runtime: Runtime, tolerance_deg: float = 0.0002) -> dict[str, Any]:
    """Desa/kelurahan polygons (simplified by ``tolerance_deg``, ~20 m) with name, kecamatan and centre."""
    import shapely

    areas = runtime.scenario.areas
    features: list[dict[str, Any]] = []
    if areas is None or not len(areas):
        return {"type": "FeatureCollection", "features": features}
    geoms = shapely.simplify(areas.geometry.to_numpy(), tolerance_deg, preserve_topology=True)
    centres = shapely.point_on_surface(areas.geometry.to_numpy())
    district = next((c for c in ("kecamatan", "district") if c in areas.columns), None)
    for i, (name, geom, centre) in enumerate(zip(areas["name"], geoms, centres, strict=True)):
        features.append({
            "type": "Feature",
            "id": i,
            "properties": {
                "name": str(name),
                "kecamatan": str(areas[district].iloc[i]) if district else None,
                "lon": round(float(centre.x), 6),
                "lat": round(float(centre.y), 6),
            },
            "geometry": json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-5))),
        })
    return {"type": "FeatureCollection", "features": features}


@router.get("/areas")
def areas(request: Request, who: PrincipalDep, runtime: RuntimeDep) -> Response:
    """Desa/kelurahan of the region as GeoJSON (``name``, ``kecamatan``, a point inside as ``lon``/``lat``).

    Empty when the scenario has no areas.
    """

    def build() -> tuple[bytes, bytes]:
        body = _dumps(areas_geojson(runtime))
        return body, gzip.compress(body, compresslevel=5)

    body, zipped = _cached(runtime, "console_areas", build)
    return _json_response(request, body, zipped)
