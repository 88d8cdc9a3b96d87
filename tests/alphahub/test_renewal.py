"""Session renewal (docs/alphahub.md#session-renewal): the password is sent once per run; a refused
renewal falls back to a login; neither token reaches a log or a repr."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr

from tests.alphahub.conftest import EMAIL, PASSWORD, make_listener, running, until
from tradebot.alphahub.auth import TokenSource, login, renew
from tradebot.exceptions import TransientError
from tradebot.simulators.alphahub import AlphaHubSimulator


def source(sim: AlphaHubSimulator, max_age: float = 3600.0) -> TokenSource:
    return TokenSource(
        sim.url, SecretStr(EMAIL), SecretStr(PASSWORD), request_timeout=5.0, max_age=max_age
    )


async def test_an_old_token_is_renewed_not_logged_in_again(sim: AlphaHubSimulator) -> None:
    tokens = source(sim, max_age=0.0)  # every token is too old at once
    first = await tokens.get()
    second = await tokens.get()
    third = await tokens.get()
    assert (sim.logins, sim.renewals) == (1, 2)
    values = {t.value.get_secret_value() for t in (first, second, third)}
    assert len(values) == 3
    assert all(sim.tokens.valid(v) for v in values)


async def test_a_refused_renewal_falls_back_to_the_password(sim: AlphaHubSimulator) -> None:
    tokens = source(sim, max_age=0.0)
    await tokens.get()
    sim.refuse_renewals(1)
    token = await tokens.get()
    assert (sim.logins, sim.renewals) == (2, 1)
    assert sim.tokens.valid(token.value.get_secret_value())
    await tokens.get()  # the new login's renewal token works again
    assert (sim.logins, sim.renewals) == (2, 2)


async def test_a_refused_token_is_replaced_by_renewal(sim: AlphaHubSimulator) -> None:
    tokens = source(sim)
    token = await tokens.get()
    tokens.refused(token)
    await tokens.get()
    assert (sim.logins, sim.renewals) == (1, 1)


async def test_a_renewal_token_is_used_once(sim: AlphaHubSimulator) -> None:
    grant = await asyncio.to_thread(login, sim.url, EMAIL, PASSWORD, 5.0)
    assert grant.renew_token is not None
    value = grant.renew_token.get_secret_value()
    assert (await asyncio.to_thread(renew, sim.url, value, 5.0)).renew_token is not None
    with pytest.raises(TransientError, match="HTTP 401"):
        await asyncio.to_thread(renew, sim.url, value, 5.0)


async def test_the_password_is_sent_once_over_many_reconnects_after_expiry(
    sim: AlphaHubSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    listener, _ = make_listener(sim, connections=2, token_max_age=3600)
    async with running(listener):
        for round_ in range(3):
            await until(lambda: listener.all_joined, listener)
            sim.expire_tokens()  # the next handshake with the current token gets 403
            sim.drop()
            await until(lambda r=round_: len(listener.gaps) >= 2 * (r + 1), listener)
        await until(lambda: listener.all_joined, listener)
    assert sim.handshakes_refused >= 3
    assert sim.logins == 1
    assert sim.renewals >= 3
    text = caplog.text + repr(listener.tokens.__dict__)
    for secret in sim.tokens_issued:  # access and renewal tokens alike
        assert secret not in text


def test_grants_never_show_their_tokens() -> None:
    from tradebot.alphahub.auth import Grant

    grant = Grant(SecretStr("access-123"), SecretStr("renew-456"))
    assert "access-123" not in repr(grant) and "renew-456" not in repr(grant)
    assert "renew-456" not in str(grant)


async def test_both_tokens_are_masked_in_free_text_as_soon_as_they_are_granted(
    sim: AlphaHubSimulator,
) -> None:
    """A library quoting a request (``Authorization: <renew token>`` in a body, a URL) after the
    grant: the masker knows the values themselves, not only where they usually stand."""
    from tradebot.masking import mask

    grant = await asyncio.to_thread(login, sim.url, EMAIL, PASSWORD, 5.0)
    assert grant.renew_token is not None
    access, renewal = grant.token.get_secret_value(), grant.renew_token.get_secret_value()
    text = mask(f"retrying with {renewal} after {access} expired")
    assert access not in text and renewal not in text
