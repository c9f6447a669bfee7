"""The reconnect rules of the sync engine, without sockets: which server next, and how long to wait."""

from __future__ import annotations

import pytest

from imagechat_tui.client.servers import Backoff, Ended, Servers

LOST = Ended("connection lost", online_for=60.0)
LOST_AT_ONCE = Ended("connection lost", online_for=0.1)
RESTART = Ended("the server is restarting", online_for=0.1, restart=True)
UNREACHABLE = Ended("can't connect (OSError)")


def test_a_restarting_server_is_left_at_once_for_the_next() -> None:
    servers = Servers(["http://a", "http://b"], Backoff(30, 30))
    assert (servers.after(RESTART), servers.url) == (0.0, "http://b")
    assert (servers.after(RESTART), servers.url) == (0.0, "http://a")


def test_a_restart_with_one_url_retries_it_at_once() -> None:
    servers = Servers(["http://lb"], Backoff(30, 30))
    assert (servers.after(RESTART), servers.url) == (0.0, "http://lb")


def test_an_unreachable_server_is_left_at_once_and_only_a_round_of_failures_backs_off() -> None:
    servers = Servers(["http://a", "http://b", "http://c"], Backoff(1, 100))
    assert (servers.after(UNREACHABLE), servers.url) == (0.0, "http://b")
    assert (servers.after(UNREACHABLE), servers.url) == (0.0, "http://c")
    assert 0.5 <= servers.after(UNREACHABLE) <= 1 and servers.url == "http://a"  # round 1: backoff 1
    assert servers.after(UNREACHABLE) == 0.0 and servers.after(UNREACHABLE) == 0.0
    assert 1 <= servers.after(UNREACHABLE) <= 2  # round 2: backoff doubled


def test_a_connection_lost_after_a_while_starts_a_fresh_round_on_the_next_server() -> None:
    servers = Servers(["http://a", "http://b"], Backoff(1, 100))
    for _ in range(3):
        servers.after(UNREACHABLE)  # on b, a round and a half of failures
    assert (servers.after(LOST), servers.url) == (0.0, "http://a")
    assert 0.5 <= servers.after(UNREACHABLE) <= 1  # the round's second failure


def test_one_url_lost_is_tried_again_after_a_moment_as_before() -> None:
    servers = Servers(["http://a"], Backoff(1, 100))
    assert 0.5 <= servers.after(LOST) <= 1
    assert 1 <= servers.after(UNREACHABLE) <= 2


def test_servers_that_drop_every_connection_at_once_are_backed_off_from() -> None:
    servers = Servers(["http://a", "http://b"], Backoff(1, 100))
    delays = [servers.after(LOST_AT_ONCE) for _ in range(6)]
    assert delays[0::2] == [0.0] * 3 and 0.5 <= delays[1] <= 1 and 1 <= delays[3] <= 2 and 2 <= delays[5] <= 4


def test_no_url_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Servers([], Backoff())
