"""Halt, reduce-only and resume from the page: the kill switch file ``tradebot halt`` writes.

Writing the same file through the same functions means the running bot obeys it before its
next signal and journals the change within a second (its watcher), exactly as for the CLI.
Each control needs ``dashboard.token``, a POST with that token and an allowed origin, or,
from a script that sends neither ``Origin`` nor ``Referer``, the token as
``Authorization: Bearer TOKEN`` (:mod:`.security`). Anything else is refused with a reason,
on the dashboard's own page (status 400, 403, 404 or 409), and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tradebot.runtime.killswitch import clear_kill_switch, write_kill_switch
from tradebot.web.security import (
    Allowed,
    bearer_token,
    request_origin,
    route_path,
    token_matches,
)
from tradebot.web.sources import Sources

#: URL name -> what it does
ACTIONS = {"halt": "halt", "reduce-only": "reduce_only", "resume": "resume"}
#: a control's form carries a token and a reason; more is not one of ours
MAX_FORM_BYTES = 4096


class Controls:
    """The ``control/{action}`` endpoint; ``refuse(status, why, path)`` renders a refusal."""

    def __init__(
        self, sources: Sources, allowed: Allowed, refuse: Callable[[int, str, str], Response]
    ) -> None:
        self.sources = sources
        self.allowed = allowed
        self.refuse = refuse

    async def endpoint(self, request: Request) -> Response:
        refused = await self._press(request)
        # relative: back to the Now page under whatever prefix a proxy serves us at
        return refused if refused is not None else RedirectResponse("../", status_code=303)

    async def _press(self, request: Request) -> Response | None:
        """The refusal, or None once the switch is written."""
        at = route_path(request.scope)
        action = ACTIONS.get(request.path_params["action"])
        if action is None:
            return self.refuse(404, "no such control", at)
        if self.sources.token is None:
            return self.refuse(403, "read-only: no dashboard.token set", at)
        origin, bearer = request_origin(request), bearer_token(request)
        if origin is None and bearer is None:
            why = "refused: no Origin or Referer (a script sends Authorization: Bearer TOKEN)"
            return self.refuse(403, why, at)
        if origin is not None and not self.allowed.origin(origin):
            return self.refuse(403, "refused: not sent from this dashboard", at)
        form = await _small_form(request)
        if form is None:
            why = "refused: not a control's form (too large, or too many fields)"
            return self.refuse(400, why, at)
        given = bearer if bearer is not None else form.get("token")
        if not token_matches(given, self.sources.token):
            return self.refuse(403, "refused: wrong token", at)
        path = self.sources.kill_switch_path
        if path is None:
            why = "risk.kill_switch_file is not set in the config: no switch"
            return self.refuse(409, why, at)
        reason = form.get("reason", "").strip() or "from the dashboard"
        try:
            await self.sources.run(partial(_apply, path, action, f"dashboard: {reason}"))
        except OSError as exc:
            why = f"cannot change the kill switch {path}: {exc.strerror or exc}"
            return self.refuse(500, why, at)
        return None


async def _small_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form's fields (as the page posts it; no multipart parser needed), or
    None when the body is larger than :data:`MAX_FORM_BYTES` or has too many fields."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8)
    except ValueError:  # more fields than a control has
        return None
    return {k: v[0] for k, v in fields.items() if v}


def _apply(path: Path, action: str, reason: str) -> None:
    if action == "resume":
        clear_kill_switch(path)
    else:
        reduce_only = action == "reduce_only"
        write_kill_switch(path, reduce_only=reduce_only, reason=reason, now=datetime.now(UTC))
