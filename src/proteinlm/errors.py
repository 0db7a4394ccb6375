"""One exception type per kind of failure; every message names the file and the record."""


class ProteinLMError(Exception):
    """Base class for errors that proteinlm reports to the user (CLI exits non-zero, no traceback)."""


class BenchDataError(ProteinLMError):
    """A benchmark file cannot be read or one of its records is invalid."""


class PromptFormatError(ProteinLMError):
    """A prompt format or user template is unknown or malformed."""


class BackendError(ProteinLMError):
    """A model backend cannot be loaded or cannot do what was asked."""


class BackendUnsupported(BackendError):
    """The backend (or the server behind it) lacks a capability, e.g. prompt log-probabilities."""


class RunError(ProteinLMError):
    """A run directory is inconsistent with the run being asked for."""


class SourceError(ProteinLMError):
    """A raw source file cannot be read at all (missing, unreadable, truncated gzip): stops a build."""


class RecordError(ProteinLMError):
    """One record of a source file is malformed; builds skip it and count it with file and line."""
