"""The little HTTP/1.1 the simulator needs: one request per connection, JSON answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
}
MAX_BODY = 1 << 20


def request_line(head: bytes) -> tuple[str, str, str]:
    """``(method, path, query)`` of a request head."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    method, _, rest = line.partition(" ")
    target = rest.rpartition(" ")[0]
    path, _, query = target.partition("?")
    return method, path, query


async def read_body(head: bytes, reader: asyncio.StreamReader) -> bytes:
    """The body announced by Content-Length (at most :data:`MAX_BODY` bytes)."""
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            return await reader.readexactly(min(int(value.strip() or 0), MAX_BODY))
    return b""


def header(head: bytes, name: str) -> str | None:
    """The value of header ``name`` in a request head, or None."""
    wanted = name.lower().encode()
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == wanted:
            return value.strip().decode("latin-1")
    return None


def write_json(writer: asyncio.StreamWriter, status: int, reply: dict[str, Any]) -> None:
    write_body(writer, status, "application/json", json.dumps(reply).encode())


def write_body(writer: asyncio.StreamWriter, status: int, content_type: str, body: bytes) -> None:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"content-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
