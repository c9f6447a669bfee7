"""The API's errors over HTTP: a status with the protocol's error code and message, and the one
table that says which status and code each domain error (`domain_errors`) gets."""

from __future__ import annotations

from .domain_errors import BadCursor, BadImage, Conflict, DomainError, Forbidden, Invalid, NotFound


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


DOMAIN_STATUS: dict[type[DomainError], tuple[int, str | None]] = {
    NotFound: (404, "not_found"),
    Forbidden: (403, "forbidden"),
    Conflict: (409, "conflict"),
    Invalid: (422, "invalid"),
    BadCursor: (400, "bad_cursor"),
    BadImage: (422, None),  # the error names its own code: hash_mismatch, not_an_image, too_many_pixels
}


def from_domain(error: DomainError) -> ApiError:
    status, code = DOMAIN_STATUS[type(error)]
    return ApiError(status, code or getattr(error, "code", "invalid"), error.message)


def unauthorized(message: str = "a valid bearer token is required") -> ApiError:
    return ApiError(401, "unauthorized", message)
