"""A sans-I/O Phoenix Channels (vsn 2.0.0) client: frame codec and channel/ref state machine.

No asyncio, no sockets, no clock reads: the caller feeds received text and the current monotonic
time in, and gets back what to send and what happened. The asyncio layer (:mod:`.session`) is a
thin loop around :class:`ChannelClient`.

Frames are JSON arrays ``[join_ref, ref, topic, event, payload]`` (docs/alphahub.md#frames). Every
request this client sends carries a fresh string ``ref``, so each ``phx_reply`` is matched to its
request; a join's ref becomes that channel instance's ``join_ref``, so a ``phx_close``/``phx_error``
for an older instance is told apart from one for the current join and ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tradebot.core.strict_json import duplicate_keys, loads
from tradebot.exceptions import InvalidFrame

TOPIC_PREFIX = "algorithms:"
_MAX_RAW = 2000  # characters of a bad frame kept for the log/journal


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded Phoenix v2 frame."""

    join_ref: str | None
    ref: str | None
    topic: str
    event: str
    payload: Any


def encode_frame(
    join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
) -> str:
    """The wire text of a frame."""
    return json.dumps([join_ref, ref, topic, event, payload], separators=(",", ":"))


def _ref(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # some servers echo numeric refs; compare them as text
    raise InvalidFrame(f"{name} must be a string or null, got {type(value).__name__}")


def decode_frame(text: str | bytes) -> Frame:
    """Parse one frame; raises :class:`InvalidFrame` (never anything else) when it is not one.

    This is the one place frame text becomes values. Objects keep a record of repeated keys
    (:mod:`tradebot.core.strict_json`): the signal parser rejects the legs or groups they touch,
    and a control frame (anything but ``new_signals``) with a repeated key is refused whole here,
    since a reply whose ``status`` is given twice says nothing reliable.
    """
    try:
        data = loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidFrame(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(data, list) or len(data) != 5:
        raise InvalidFrame("not a 5-element array")
    join_ref, ref, topic, event, payload = data
    if not isinstance(topic, str) or not isinstance(event, str):
        raise InvalidFrame("topic and event must be strings")
    if event != "new_signals":
        for key, _ in duplicate_keys(payload):
            raise InvalidFrame(f"{event[:40]!r} frame repeats the key {key[:20]!r}")
    return Frame(_ref(join_ref, "join_ref"), _ref(ref, "ref"), topic, event, payload)


def raw_excerpt(text: str | bytes) -> str:
    """A bounded excerpt of a bad frame for logs and the journal."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[:_MAX_RAW]


# the head of a frame, as far as the topic: [join_ref, ref, "algorithms:N"
_HEAD = re.compile(
    r'\s*\[\s*(?:null|"[^"\\]{0,64}"|[0-9]{1,20})\s*,'
    r'\s*(?:null|"[^"\\]{0,64}"|[0-9]{1,20})\s*,\s*"algorithms:([0-9]{1,12})"',
    re.ASCII,
)


def frame_identity(text: str) -> tuple[int | None, str]:
    """For a frame that could not be decoded: the algorithm its topic names, and its content.

    The content leaves out the two refs, which differ between connections for the same push, so
    the same broken frame arriving on every connection is recognised as one. Reads only the
    frame's head; the algorithm is None when even that is unreadable.
    """
    match = _HEAD.match(text)
    if match is None:
        return None, text
    return int(match[1]), text[match.start(1) :]


def topic_for(algo_id: int) -> str:
    return f"{TOPIC_PREFIX}{algo_id}"


def algo_of(topic: str) -> int | None:
    """The algorithm id of an ``algorithms:N`` topic, or None."""
    if not topic.startswith(TOPIC_PREFIX):
        return None
    tail = topic[len(TOPIC_PREFIX) :]
    if not tail.isascii() or not tail.isdigit() or len(tail) > 12:
        return None
    return int(tail)


# -- what the state machine reports ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Joined:
    algo_id: int
    join_ref: str


@dataclass(frozen=True, slots=True)
class JoinFailed:
    """A join was refused or timed out; it is retried after ``join_timeout``."""

    algo_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChannelLost:
    """The current channel instance was closed or crashed by the server; a rejoin is sent."""

    algo_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class SignalPush:
    algo_id: int
    payload: Any


@dataclass(frozen=True, slots=True)
class Dead:
    """The link is considered dead (missed heartbeat reply)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A frame that was well-formed but not for us (old join, unknown reply, other topic)."""

    reason: str


Event = Joined | JoinFailed | ChannelLost | SignalPush | Dead | Ignored


@dataclass(slots=True)
class _Channel:
    algo_id: int
    join_ref: str | None = None  # ref of the current join (pending or joined)
    joined: bool = False
    deadline: float | None = None  # join reply due by / rejoin at


@dataclass(slots=True)
class ChannelClient:
    """The client side of one websocket connection: joins, heartbeats, reply matching.

    Call :meth:`start` once when the socket opens, :meth:`receive` for each text frame (it may
    raise :class:`InvalidFrame`), and :meth:`on_timer` whenever :meth:`next_deadline` is reached.
    Frames to send accumulate in :meth:`data_to_send`. ``now`` is monotonic seconds.
    """

    algorithms: tuple[int, ...]
    heartbeat_interval: float
    heartbeat_timeout: float
    join_timeout: float
    _ref: int = 0
    _channels: dict[int, _Channel] = field(default_factory=dict)
    _by_topic: dict[str, _Channel] = field(default_factory=dict)
    _outbox: list[str] = field(default_factory=list)
    _next_heartbeat: float = 0.0
    # Outstanding heartbeats, oldest first: ref -> reply due by. A reply settles its heartbeat
    # and every older one (one socket delivers in order).
    _heartbeats: dict[str, float] = field(default_factory=dict)

    def _next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    def _send_join(self, channel: _Channel, now: float) -> None:
        ref = self._next_ref()
        channel.join_ref, channel.joined = ref, False
        channel.deadline = now + self.join_timeout
        self._outbox.append(encode_frame(ref, ref, topic_for(channel.algo_id), "phx_join", {}))

    def start(self, now: float) -> None:
        """Queue a join for every algorithm and schedule the first heartbeat."""
        for algo_id in self.algorithms:
            channel = _Channel(algo_id)
            self._channels[algo_id] = channel
            self._by_topic[topic_for(algo_id)] = channel
            self._send_join(channel, now)
        self._next_heartbeat = now + self.heartbeat_interval

    def data_to_send(self) -> list[str]:
        out, self._outbox = self._outbox, []
        return out

    @property
    def all_joined(self) -> bool:
        return all(c.joined for c in self._channels.values())

    def next_deadline(self) -> float:
        times = [self._next_heartbeat]
        if self._heartbeats:
            times.append(next(iter(self._heartbeats.values())))
        times.extend(c.deadline for c in self._channels.values() if c.deadline is not None)
        return min(times)

    def on_timer(self, now: float) -> list[Event]:
        """Send due heartbeats and retry due joins; report a missed heartbeat reply as Dead."""
        events: list[Event] = []
        if self._heartbeats and now >= next(iter(self._heartbeats.values())):
            self._heartbeats.clear()
            return [Dead(f"no heartbeat reply within {self.heartbeat_timeout:g} s")]
        if now >= self._next_heartbeat:
            # A fixed period whatever else arrives: the server counts only what we send.
            ref = self._next_ref()
            self._heartbeats[ref] = now + self.heartbeat_timeout
            self._next_heartbeat = now + self.heartbeat_interval
            self._outbox.append(encode_frame(None, ref, "phoenix", "heartbeat", {}))
        for channel in self._channels.values():
            if channel.deadline is None or now < channel.deadline:
                continue
            if channel.join_ref is not None and not channel.joined:
                events.append(JoinFailed(channel.algo_id, "no join reply in time"))
            self._send_join(channel, now)
        return events

    def receive(self, text: str | bytes, now: float) -> Event:
        """Feed one received frame. Raises :class:`InvalidFrame` for malformed input."""
        frame = decode_frame(text)
        if frame.event == "phx_reply":
            return self._reply(frame, now)
        channel = self._by_topic.get(frame.topic)
        if channel is None:
            return Ignored(f"frame for unsubscribed topic {frame.topic[:60]!r}")
        if frame.event in ("phx_close", "phx_error"):
            # Only the current instance matters; a close for an older join is stale news.
            # A null join_ref cannot be placed, so it is taken as being about the current join.
            if frame.join_ref is not None and frame.join_ref != channel.join_ref:
                return Ignored(f"{frame.event} for old join {frame.join_ref}")
            if channel.join_ref is not None and not channel.joined:
                return Ignored(f"{frame.event} while a join is pending")
            self._send_join(channel, now)
            return ChannelLost(channel.algo_id, frame.event)
        if frame.event == "new_signals":
            return SignalPush(channel.algo_id, frame.payload)
        return Ignored(f"event {frame.event[:40]!r}")

    def _reply(self, frame: Frame, now: float) -> Event:
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        status = payload.get("status")
        if frame.topic == "phoenix":
            if frame.ref is not None and frame.ref in self._heartbeats:
                for ref in list(self._heartbeats):
                    del self._heartbeats[ref]
                    if ref == frame.ref:
                        break
                if status != "ok":
                    return Dead(f"heartbeat answered with status {str(status)[:20]!r}")
                return Ignored("heartbeat ok")
            return Ignored("reply to an unknown heartbeat")
        channel = self._by_topic.get(frame.topic)
        if channel is None or frame.ref is None or frame.ref != channel.join_ref:
            return Ignored("reply to no pending request")
        if channel.joined:
            return Ignored("second reply to a join")
        if status == "ok":
            channel.joined, channel.deadline = True, None
            return Joined(channel.algo_id, frame.ref)
        response = payload.get("response")
        reason = response.get("reason") if isinstance(response, dict) else None
        # Retry the join later rather than hammering a server that refused it.
        channel.join_ref, channel.deadline = None, now + self.join_timeout
        return JoinFailed(channel.algo_id, f"join refused: {str(reason or status)[:80]}")
