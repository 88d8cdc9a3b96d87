"""The dashboard served for real on 127.0.0.1 (a free port), in a thread with its own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.journal.generate import Generated, generate
from tradebot.config.model import DashboardConfig
from tradebot.web.serve import DashboardHandle, serve_dashboard
from tradebot.web.sources import Sources


@contextmanager
def served(sources: Sources, settings: DashboardConfig | None = None) -> Iterator[DashboardHandle]:
    """Serve ``sources`` until the block ends; the handle says where (or why not)."""
    settings = settings or DashboardConfig(port=0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    handle = asyncio.run_coroutine_threadsafe(serve_dashboard(settings, sources), loop).result(30)
    try:
        yield handle
    finally:
        asyncio.run_coroutine_threadsafe(handle.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@pytest.fixture
def known(tmp_path: Path) -> Generated:
    """The review tests' small journal with known figures (tests/journal/generate.py)."""
    return generate(tmp_path / "journal" / "tradebot.sqlite")
