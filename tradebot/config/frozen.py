"""The base of every section of ``config.yaml``: a frozen model that rejects unknown keys.

Secrets are ``SecretStr`` (masked in ``repr()``, logs and ``tradebot config check``); any other
text that may carry a credential (a URL with ``user:password@`` or ``?token=``) is masked in
``repr()`` here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from tradebot.masking import mask


class Frozen(BaseModel):
    """Base for every config section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # SecretStr fields hide themselves; a URL may still carry a token or a password
        for name, value in super().__repr_args__():
            yield name, mask(value) if isinstance(value, str) else value
