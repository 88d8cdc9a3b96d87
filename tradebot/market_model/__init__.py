"""The market model: Alpaca's fill and trigger rules as pure functions, shared by the ``sim``
broker (:mod:`tradebot.broker.sim`) and the local Alpaca server (:mod:`tradebot.simulators.alpaca`).

No I/O, no clock, no asyncio, and nothing of the bot (no core, broker, journal or runtime): both
markets, and the bot's own price checks, import it; it imports neither. The rules and where each
comes from are in :mod:`~tradebot.market_model.rules`; the price sanity checks in
:mod:`~tradebot.market_model.prices`.
"""
