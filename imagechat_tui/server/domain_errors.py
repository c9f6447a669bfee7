"""Domain errors: why the store or a route refuses a request, with no HTTP in them (the app gives
each its status and error code in one table, `errors.DOMAIN_STATUS`)."""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse; `message` is said to the caller as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class Forbidden(DomainError):
    """The caller may not do this (its role or authorship does not allow it)."""


class Conflict(DomainError):
    """The request contradicts an earlier one (a broadcastId reused for a different write)."""


class Invalid(DomainError):
    """The request breaks a rule its schema cannot say (a reply to another marker's comment, a PATCH
    with nothing to change)."""


class BadCursor(DomainError):
    """A page cursor this server did not give (or one mangled on the way)."""


class BadImage(DomainError):
    """Uploaded bytes that are not an image the server keeps (`code` says why, for the caller)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
