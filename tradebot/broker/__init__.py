"""Brokers: the :class:`~tradebot.broker.base.Broker` protocol and its implementations.

Nothing outside ``tradebot.broker.alpaca`` imports ``alpaca``.
"""
