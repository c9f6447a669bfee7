"""Domain errors: why the store or a route refuses a request, in the domain's terms: no HTTP here (the app maps
each kind to its status and error code in one table, `errors.DOMAIN_STATUS`)."""

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
    """The request is well formed but names something it may not (a reply to another marker's comment)."""
