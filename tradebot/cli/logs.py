"""Logging for the CLI: ``-v`` info, ``-vv`` debug, and never a secret on stderr.

Every handler on the root logger gets :class:`~tradebot.masking.MaskSecrets`, so records from
third-party loggers (alpaca, websockets, urllib3, asyncio) are masked like our own: a handler
filter sees every record that reaches the handler, a logger filter only its own logger's.
"""

from __future__ import annotations

import logging
import sys

from tradebot.cli.options import log_level
from tradebot.masking import MaskSecrets

#: Loggers whose debug output is raw websocket frames. The Alpaca trade-updates stream logs
#: through ``websockets.client``, and its first frame carries the API keys (cut in the middle by
#: websockets' truncation, where no pattern can be sure to find them): at most info, even at -vv.
#: Our own AlphaHub connections log their frames through ``tradebot.alphahub.websocket``.
RAW_FRAME_LOGGERS = ("websockets",)

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: int) -> None:
    """Log to stderr at warning (0), info (1) or debug (2+), masked."""
    level = log_level(verbose)
    logging.basicConfig(level=level, stream=sys.stderr, format=FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskSecrets) for f in handler.filters):
            handler.addFilter(MaskSecrets())
    for name in RAW_FRAME_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
