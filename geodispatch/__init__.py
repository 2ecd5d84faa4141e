"""geodispatch: geospatial dispatch optimizer for Indonesian emergency services."""

__version__ = "0.1.0"
