"""The one table that maps the store's domain errors to HTTP statuses and error codes."""

from __future__ import annotations

from imagechat_tui.server.domain_errors import DomainError
from imagechat_tui.server.errors import DOMAIN_STATUS


def test_every_domain_error_has_its_status_and_code() -> None:
    assert set(DOMAIN_STATUS) == set(DomainError.__subclasses__())
