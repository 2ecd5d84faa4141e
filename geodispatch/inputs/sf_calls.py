"""Facts about the San Francisco fire/EMS calls file (DataSF "Fire Department Calls for Service").

The simulation's calibration (:mod:`geodispatch.sim.calibration`) and the day replay
(:mod:`geodispatch.assign.evaluate`) both read that file; its vocabulary lives here once.
The file itself is always an explicit argument (one real week is in ``../shared/data/incidents/``).
"""

from __future__ import annotations

SF_POPULATION_2016 = 870_887
"""San Francisco population, 2016 (US Census Bureau estimate; not from the calls file)."""

SF_TYPE: dict[str, str] = {
    "Medical Incident": "medis",
    "Structure Fire": "kebakaran",
    "Outside Fire": "kebakaran",
    "Vehicle Fire": "kebakaran",
    "Alarms": "kebakaran",
    "Electrical Hazard": "kebakaran",
    "Gas Leak (Natural and LP Gases)": "kebakaran",
    "Odor (Strange / Unknown)": "kebakaran",
    "Fuel Spill": "kebakaran",
    "Smoke Investigation (Outside)": "kebakaran",
    "HazMat": "kebakaran",
    "Explosion": "kebakaran",
    "Traffic Collision": "kecelakaan",
    "Elevator / Escalator Rescue": "penyelamatan",
    "Water Rescue": "penyelamatan",
    "Confined Space / Structure Collapse": "penyelamatan",
    "Industrial Accidents": "penyelamatan",
    "High Angle Rescue": "penyelamatan",
    "Extrication / Entrapped (Machinery, Vehicle)": "penyelamatan",
}
"""DataSF ``Call Type`` -> SOP incident type (types not listed are left out)."""

MAX_DURATION_S = 6 * 3600.0
"""Service intervals longer than this (seconds) are data errors and left out of the samples."""
