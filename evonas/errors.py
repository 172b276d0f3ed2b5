"""One exception family for evonas: every user-facing failure is an ``EvonasError``."""
from __future__ import annotations

__all__ = ["EvonasError", "ConfigError", "ArchError", "DataError", "RunDirError", "ClusterError"]


class EvonasError(Exception):
    """Base class of every error evonas raises on purpose (bad input, missing files)."""


class ConfigError(EvonasError):
    """A configuration value is unknown, of the wrong type or out of range."""


class ArchError(EvonasError, ValueError):
    """An architecture string, index or encoding is malformed or out of range."""


class DataError(EvonasError, FileNotFoundError):
    """A data file or directory is missing or has the wrong format."""


class RunDirError(EvonasError):
    """A run directory is missing, incomplete or incompatible with the request."""


class ClusterError(EvonasError):
    """A Ray address does not answer, or what answers there is not a Ray head."""
