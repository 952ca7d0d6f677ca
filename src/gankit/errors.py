"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""


class GankitError(Exception):
    """Base class: the message says what was wrong and what to do."""


class ConfigError(GankitError, ValueError):
    """A config key, type or value is invalid."""


class DataError(GankitError, ValueError):
    """A data source is missing, empty or corrupt."""


class CheckpointError(GankitError):
    """A checkpoint or run directory is missing or unreadable."""


class TrainingDiverged(GankitError):
    """A loss became NaN or infinite."""
