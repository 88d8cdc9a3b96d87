"""Sending one burst of alerts: every URL at once, each with a timeout of its own.

A URL that hangs (a receiver that accepts and never answers) holds its own thread until its
``timeout``; the others are sent meanwhile and are not waited for. A failure is logged naming
the entry by its place in ``notify:`` and its service (``notify[2] (tgram): timed out after
10 s``): URLs hold tokens, so never the URL itself, and the reason passes through the one
masking function (:func:`tradebot.masking.mask`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import apprise

from tradebot.masking import mask

log = logging.getLogger(__name__)

#: Apprise's notification types, one per severity (the receiver colours or sounds by it)
Severity = Literal["info", "success", "warning", "failure"]
SEVERITIES: tuple[Severity, ...] = ("info", "success", "warning", "failure")  # mildest first

Sender = Callable[[str, str, str, Severity], bool]  # (url, title, body, type) -> delivered


class NotAnAppriseUrl(ValueError):
    """The URL names no service Apprise knows."""


def apprise_send(url: str, title: str, body: str, severity: Severity) -> bool:
    """Send one message to one Apprise URL; False when the service did not take it."""
    sender = apprise.Apprise()
    if not sender.add(url):
        raise NotAnAppriseUrl("not a URL Apprise can send to")
    return bool(sender.notify(body=body, title=title, notify_type=apprise.NotifyType(severity)))


def worst(severities: Sequence[Severity]) -> Severity:
    return max(severities, key=SEVERITIES.index, default="info")


def service(url: str) -> str:
    """The entry's service, for a log line: its scheme (``tgram``, ``json``), never more."""
    return urlsplit(url).scheme or "?"


@dataclass(frozen=True, slots=True)
class Message:
    index: int  # the entry's place under notify:
    url: str
    title: str
    body: str
    severity: Severity
    timeout: float


def deliver(messages: Sequence[Message], send: Sender) -> list[tuple[int, bool]]:
    """Send every message at once, each in a thread of its own; wait for each at most its
    timeout (all counted from the start). Returns (index, delivered) in the given order."""
    results: dict[int, bool] = {}
    threads: list[tuple[Message, threading.Thread]] = []
    for message in messages:

        def one(m: Message = message) -> None:
            results[m.index] = _send_one(m, send)

        thread = threading.Thread(target=one, name=f"notify[{message.index}]", daemon=True)
        thread.start()
        threads.append((message, thread))
    start = time.monotonic()
    out: list[tuple[int, bool]] = []
    for message, thread in threads:
        thread.join(max(0.0, start + message.timeout - time.monotonic()))
        if thread.is_alive():
            log.warning("%s: timed out after %g s", _name(message), message.timeout)
            out.append((message.index, False))
        else:
            out.append((message.index, results.get(message.index, False)))
    return out


def _send_one(message: Message, send: Sender) -> bool:
    try:
        ok = send(message.url, mask(message.title), mask(message.body), message.severity)
    except Exception as exc:
        log.warning("%s: failed: %s", _name(message), mask(f"{type(exc).__name__}: {exc}"))
        return False
    if not ok:
        log.warning("%s: did not take the message (see Apprise's log above)", _name(message))
    return ok


def _name(message: Message) -> str:
    return f"notify[{message.index}] ({service(message.url)})"
