"""Every error tradebot raises, classified by what the caller should do about it.

::

    TradebotError
    ├── ConfigError ............... fix the config, then start again          (exit 2)
    │   └── LiveTradingNotGranted . live mode asked for without both the flag and the
    │                               acknowledgement in the config
    ├── BadInput .................. drop the message, record why, go on
    │   ├── InvalidSignal ......... a new_signals payload or leg that cannot be traded
    │   ├── InvalidFrame .......... a websocket frame that is not a Phoenix v2 frame
    │   └── HistoryUnavailable .... AlphaHub's signal history answered 404/401, HTML or
    │                               another shape: warn once, keep trading live
    ├── TransientError ............ retry, with backoff (the same client order id)
    │   ├── ConnectionLost ........ the link dropped or went silent
    │   └── BrokerUnavailable ..... timeout, connection error, HTTP 5xx
    │       └── RateLimited ....... HTTP 429; carries the server's Retry-After
    ├── OrderOutcomeUnknown ....... the order may or may not exist: never send it again
    │                               blind; look it up by client order id first
    ├── OrderRejected ............. the broker said no for a business reason: record it,
    │                               never retry the same order
    ├── ResendRefused ............. `tradebot resend` will not send this order again: say why
    ├── StatusUnreadable .......... `tradebot status` found no usable status file: say why
    └── FatalError ................ stop the bot cleanly, tell the user
        ├── AuthenticationError ... wrong credentials or keys                   (exit 3)
        ├── JournalError .......... the journal cannot be written or read       (exit 4)
        │   ├── JournalCorrupt .... not a tradebot journal, or damaged
        │   └── NotLeader ......... another process leads now: this one may not write
        │                           an intent (fencing, several processes)
        └── BrokerError ........... the broker answered in a way we cannot use  (exit 5)

``OrderOutcomeUnknown`` is not a ``TransientError`` on purpose: everything that retries transient
errors (the broker's retry policy, reconnect loops, the re-check) would otherwise send an order
again that may already exist. Only the adapter's submit loop, which looks the order up by client
order id before each new attempt, and recovery / the re-check, which settle it by lookup, handle it.

The CLI maps this tree to exit codes in one place (:data:`EXIT_CODES`). A test compares the
drawing above with the classes below, so the picture cannot drift from the code.
Messages never contain secrets: every message is masked (:func:`tradebot.masking.mask`) when the
error is made, so a URL or a library's text quoted in it loses its tokens and keys before it can
reach a log, the journal or the terminal.
"""

from __future__ import annotations

from tradebot.masking import mask


class TradebotError(Exception):
    """Base of every error tradebot raises on purpose; its text arguments are masked."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask(arg) if isinstance(arg, str) else arg for arg in args))


# -- fix the config -----------------------------------------------------------------------------


class ConfigError(TradebotError):
    """The configuration is wrong. The message names the file, line and key path."""


class LiveTradingNotGranted(ConfigError):
    """Live trading needs both ``--live`` and ``live_trading_acknowledged: true`` in the config."""


# -- drop the message, go on -----------------------------------------------------------------


class BadInput(TradebotError):
    """One message from outside is unusable; it is recorded and skipped, nothing else stops."""


class InvalidSignal(BadInput):
    """A signal payload or one of its legs cannot be traded (the reason says why)."""


class InvalidFrame(BadInput):
    """A websocket frame that is not a well-formed Phoenix vsn 2.0.0 frame."""


class HistoryUnavailable(BadInput):
    """AlphaHub's signal history is missing or answers in a form we do not know
    (docs/alphahub.md#signal-history). ``status`` is the HTTP status when there was one
    (401/403: the token may be stale)."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


# -- retry ---------------------------------------------------------------------------------------


class TransientError(TradebotError):
    """Worth retrying after a wait: nothing permanent is wrong."""


class ConnectionLost(TransientError):
    """A connection closed or went silent without us asking for it."""


class BrokerUnavailable(TransientError):
    """The broker could not be reached, timed out, or answered with a 5xx."""


class RateLimited(BrokerUnavailable):
    """HTTP 429. ``retry_after`` is the server's Retry-After in seconds, when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# -- look it up before anything is sent again ---------------------------------------------------


class OrderOutcomeUnknown(TradebotError):
    """A submission whose fate is unknown (timeout, reset, 5xx, duplicate client order id).

    The only safe next step is to look the order up by ``client_order_id``; a generic retry
    would re-send it, so it is deliberately outside :class:`TransientError`.
    """

    def __init__(self, message: str, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


# -- record, do not retry ---------------------------------------------------------------------


class OrderRejected(TradebotError):
    """The broker refused an order for a business reason (buying power, not shortable, ...)."""

    def __init__(
        self,
        message: str,
        *,
        client_order_id: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id
        self.code = code
        self.status = status


# -- say why -------------------------------------------------------------------------------------


class ResendRefused(TradebotError):
    """``tradebot resend`` refuses: the order is unknown, still live, filled, or already re-sent."""


class StatusUnreadable(TradebotError):
    """The status file is missing, unreadable or not a status document; the message says why."""


# -- stop ----------------------------------------------------------------------------------------


class FatalError(TradebotError):
    """The bot cannot go on; it stops cleanly and tells the user why."""


class AuthenticationError(FatalError):
    """Credentials or API keys were refused; retrying would not help and could lock the user out."""


class JournalError(FatalError):
    """The journal could not be opened, written or read."""


class JournalCorrupt(JournalError):
    """The journal file is damaged or is not a tradebot journal; it is never overwritten."""


class NotLeader(JournalError):
    """The shared journal's leadership epoch moved on: this process must not make intents
    durable (fencing: two processes never both send)."""


class BrokerError(FatalError):
    """The broker answered in a way tradebot cannot interpret."""


#: One place that maps the tree to process exit codes (most specific class first).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (ConfigError, 2),
    (AuthenticationError, 3),
    (JournalError, 4),
    (BrokerError, 5),
    (TradebotError, 1),
)


def exit_code_for(error: BaseException) -> int:
    """The process exit code for ``error``: 2 config, 3 auth, 4 journal, 5 broker, 1 otherwise."""
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 1
