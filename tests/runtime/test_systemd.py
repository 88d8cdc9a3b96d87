"""The sd_notify protocol spoken to a socket of the test's own (path and abstract), and the
watchdog's settings read from the environment."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator

import pytest

from tradebot.runtime.systemd import Notifier, Probe, watchdog_period


@pytest.fixture
def path_socket() -> Iterator[tuple[socket.socket, str]]:
    with tempfile.TemporaryDirectory(prefix="tb-sd-") as folder:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(f"{folder}/notify")
        sock.settimeout(5)
        try:
            yield sock, f"{folder}/notify"
        finally:
            sock.close()


def test_a_path_socket_receives_one_datagram_per_message(
    path_socket: tuple[socket.socket, str],
) -> None:
    sock, path = path_socket
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert notifier is not None
    assert notifier.send("READY=1", "STATUS=trading\nwith a newline")
    assert sock.recv(4096) == b"READY=1\nSTATUS=trading with a newline"
    notifier.close()


def test_an_abstract_socket_is_named_with_a_leading_at() -> None:
    name = f"tradebot-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": f"@{name}"})
        assert notifier is not None
        assert notifier.send("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_nothing_without_a_socket_and_a_vanished_socket_never_raises() -> None:
    assert Notifier.from_environ({}) is None
    assert Notifier.from_environ({"NOTIFY_SOCKET": "relative/path"}) is None
    gone = Notifier.from_environ({"NOTIFY_SOCKET": "/nonexistent/tradebot/notify"})
    assert gone is not None
    assert gone.send("WATCHDOG=1") is False
    assert gone.send("WATCHDOG=1") is False


def test_the_watchdog_period_is_for_this_process_only() -> None:
    assert watchdog_period({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_period({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_period({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_period({}) is None


def test_a_part_not_seen_within_the_period_is_stalled() -> None:
    probe = Probe(("loop", "journal"), now=100.0)
    probe.advance("loop", 105.0)
    assert probe.stalled(105.0, period=5.0) == {}
    assert probe.stalled(105.5, period=5.0) == {"journal": 5.5}
