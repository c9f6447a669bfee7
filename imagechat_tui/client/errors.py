"""What a client call can fail with, each with a message fit to show a user."""

from __future__ import annotations


class ClientError(Exception):
    """Base of the client's errors; `str()` is a message for the user."""


class OfflineError(ClientError):
    """The server can't be reached (or the live connection is down): nothing was written."""


class RequestError(ClientError):
    """The server refused a request; `status` and `code` are the protocol's."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
