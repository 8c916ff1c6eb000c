"""The error hierarchy: every error a user can cause names the problem and the fix."""


class SangamError(Exception):
    """Base class. ``str(err)`` is a one-line message that says what to do."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


class SearchError(SangamError):
    """Errors raised while answering a query."""


class BadQuery(SearchError):
    """The query text or a query parameter is unusable."""


class IndexNotFound(SearchError):
    """No index exists at the given directory."""


class IndexMismatch(SearchError):
    """The index was built with another model, analyzer or format version."""


class IndexBusy(SangamError):
    """Another process holds the index build lock."""


class CorpusError(SangamError):
    """The corpus could not be read (missing path, nothing usable, strict-mode reports)."""


class ModelError(SangamError):
    """The embedding model could not be built or loaded."""


class DocumentNotFound(SearchError):
    """No document with the given id is in the index."""


class UnsafeIndex(SangamError):
    """An index folder that users other than its owner can write (its files are unpickled when opened)."""
