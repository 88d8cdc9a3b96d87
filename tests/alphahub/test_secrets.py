"""Neither the password nor any token reaches a log line, through a whole session and a refusal."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr

from tests.alphahub.conftest import make_listener, next_signal, payload, running, until
from tradebot.exceptions import AuthenticationError
from tradebot.simulators.alphahub import AlphaHubSimulator

PASSWORD = "pw-Xq7-very-secret"


async def test_no_password_or_token_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # websockets' own debug lines include the request line
    async with AlphaHubSimulator(password=PASSWORD) as sim:
        listener, rec = make_listener(sim, connections=2, password=SecretStr(PASSWORD))
        async with running(listener):
            await until(lambda: listener.all_joined, listener)
            await sim.push(14, payload("AAA"))
            await next_signal(listener)
            sim.expire_tokens()
            sim.refuse_handshakes(1)
            sim.drop()
            await until(lambda: listener.all_joined and len(listener.gaps) >= 2, listener)
            await until(lambda: all(g.rejoined_at for g in listener.gaps), listener)
        wrong, _ = make_listener(sim, password=SecretStr(PASSWORD + "-wrong"))
        with pytest.raises(AuthenticationError) as refused:
            await asyncio.wait_for(wrong.run(), 10)

    text = caplog.text + "".join(str(s) for s in rec.states) + str(refused.value)
    assert "api_token=***" in caplog.text  # the socket URL is logged, masked
    assert "> GET /socket/websocket" in caplog.text  # websockets' handshake line was captured
    assert PASSWORD not in text
    assert len(sim.tokens_issued) >= 2  # the first one and its replacement after the 403
    for token in sim.tokens_issued:
        assert token not in text
    assert PASSWORD not in repr(listener.settings)
