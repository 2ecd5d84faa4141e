"""The simulator's calibration: the one in :mod:`geodispatch.inputs.calibration` (shared with the
network-free replay of :mod:`geodispatch.assign.evaluate`), re-exported under its historical path."""

from geodispatch.inputs.calibration import DEFAULT_CALIBRATION, Calibration, calibrate, check_calibration

__all__ = ["DEFAULT_CALIBRATION", "Calibration", "calibrate", "check_calibration"]
