"""The 112 forwarding workflow: agencies, SOP -> forwards, commander, acknowledgement timeouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geodispatch.assign.forward import Forward, forward_status, plan_forwards, unit_agency
from geodispatch.assign.model import resolve_sop
from geodispatch.errors import RegionConfigError
from geodispatch.regions import Agency, Requirement, Workflow, load_region, parse_region
from geodispatch.synthetic import synthetic_regency

SRC = "test"


def _agency(id_: str, kind: str, unit_types: tuple[str, ...] | None = None) -> Agency:
    return Agency(id=id_, name=id_.upper(), kind=kind, unit_types=unit_types, source=SRC)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def regency():  # type: ignore[no-untyped-def]
    return synthetic_regency(n_nodes=600)


def test_synthetic_fire_goes_to_damkar_and_psc_and_the_call_centre(regency) -> None:  # type: ignore[no-untyped-def]
    sop = resolve_sop(None)
    plan = plan_forwards("kebakaran", sop["kebakaran"], regency.agencies, regency.workflow)
    assert plan.forwards == (
        Forward("syn-damkar", ("damkar",)),
        Forward("syn-psc", ("ambulance",)),
        Forward("syn-kominfo", ()),
    )
    assert plan.command == "syn-damkar"
    assert plan.no_agency == ()


def test_synthetic_flood_is_commanded_by_bpbd(regency) -> None:  # type: ignore[no-untyped-def]
    sop = resolve_sop(None)
    plan = plan_forwards("banjir", sop["banjir"], regency.agencies, regency.workflow)
    assert [f.agency_id for f in plan.forwards] == ["syn-bpbd", "syn-sar", "syn-kominfo"]
    assert plan.command == "syn-bpbd"


def test_every_synthetic_unit_belongs_to_an_agency_that_owns_its_type(regency) -> None:  # type: ignore[no-untyped-def]
    by_id = {a.id: a for a in regency.agencies}
    assert all(a.source.startswith("synthetic") for a in regency.agencies)
    for station in regency.stations:
        assert station.agency in by_id, station.id
        for unit in station.units:
            owner = unit_agency(unit.type, regency.agencies, unit.agency, station.agency)
            assert owner == station.agency
            assert unit.type in by_id[owner].owned_unit_types, (station.id, unit.id, unit.type)


def test_notified_only_agency_and_commander_outside_the_sop_are_told() -> None:
    agencies = (_agency("dmk", "damkar"), _agency("kom", "kominfo"), _agency("bp", "bpbd"))
    workflow = {"*": Workflow(notify=("kom",), command="bp", source=SRC)}
    plan = plan_forwards("kebakaran", (Requirement(type="damkar", count=2),), agencies, workflow)
    assert plan.forwards == (Forward("dmk", ("damkar",)), Forward("kom", ()), Forward("bp", ()))
    assert plan.command == "bp"


def test_type_line_command_wins_over_the_star_line() -> None:
    agencies = (_agency("dmk", "damkar"), _agency("bp", "bpbd"))
    workflow = {
        "*": Workflow(command="bp", source=SRC),
        "kebakaran": Workflow(command="dmk", source=SRC),
    }
    assert plan_forwards("kebakaran", (Requirement(type="damkar"),), agencies, workflow).command == "dmk"
    assert plan_forwards("banjir", (Requirement(type="bpbd"),), agencies, workflow).command == "bp"


def test_unit_types_no_agency_owns_are_reported() -> None:
    agencies = (_agency("bp", "bpbd"),)
    plan = plan_forwards("banjir", (Requirement(type="bpbd"), Requirement(type="sar")), agencies, {})
    assert plan.no_agency == ("sar",)
    # a region without agencies forwards nothing and warns of nothing (direct dispatch)
    empty = plan_forwards("banjir", (Requirement(type="sar"),), (), {})
    assert empty.forwards == () and empty.command is None and empty.no_agency == ()


def test_unit_agency_precedence_and_ambiguity() -> None:
    agencies = (_agency("a", "damkar"), _agency("b", "sar"))  # both own "rescue"
    assert unit_agency("damkar", agencies) == "a"
    assert unit_agency("rescue", agencies) is None  # ambiguous: neither unit nor station says
    assert unit_agency("rescue", agencies, station_agency_id="b") == "b"
    assert unit_agency("rescue", agencies, unit_agency_id="a", station_agency_id="b") == "a"


def test_acknowledgement_timeout_with_an_injected_clock() -> None:
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert forward_status("notified", t0, t0 + timedelta(seconds=60), 60.0) == "notified"
    assert forward_status("notified", t0, t0 + timedelta(seconds=60.5), 60.0) == "overdue"
    assert forward_status("acknowledged", t0, t0 + timedelta(hours=2), 60.0) == "acknowledged"
    assert forward_status("escalated", t0, t0 + timedelta(hours=2), 60.0) == "escalated"


def _region(**extra: object) -> dict[str, object]:
    return {
        "slug": "kab-uji",
        "name": "Kabupaten Uji",
        "kind": "kabupaten",
        "province": "Uji",
        "osm_query": "Kabupaten Uji",
        **extra,
    }


def test_region_rejects_unknown_and_duplicate_agency_ids() -> None:
    agency = {"id": "bp", "name": "BPBD", "kind": "bpbd", "source": SRC}
    with pytest.raises(RegionConfigError, match=r"unknown agency ids.*workflow banjir command: nope"):
        parse_region(_region(agencies=[agency], workflow={"banjir": {"command": "nope", "source": SRC}}))
    with pytest.raises(RegionConfigError, match="duplicate agency ids: bp"):
        parse_region(_region(agencies=[agency, agency]))
    with pytest.raises(RegionConfigError, match="source"):
        parse_region(_region(agencies=[{"id": "bp", "name": "BPBD", "kind": "bpbd"}]))
    with pytest.raises(RegionConfigError, match="kind"):
        parse_region(_region(agencies=[{**agency, "kind": "pupr"}]))


def test_seed_regions_load_their_sourced_agencies() -> None:
    kutim = load_region("kutai-timur")
    assert {a.id for a in kutim.agencies} == {"kominfo-kutim", "damkar-kutim", "bpbd-kutim", "rsud-kudungga"}
    assert all(a.source.startswith("https://") for a in kutim.agencies)
    ppu = load_region("penajam-paser-utara")
    assert ppu.workflow["*"].command == "bpbd-ppu"
    fire = plan_forwards("kebakaran", resolve_sop(ppu)["kebakaran"], ppu.agencies, ppu.workflow)
    assert fire.command == "bpbd-ppu" and "bpbd-ppu" in {f.agency_id for f in fire.forwards}
    # no sourced turn-out for Bantaeng was found: it forwards nothing (direct dispatch)
    assert load_region("bantaeng").agencies == ()
