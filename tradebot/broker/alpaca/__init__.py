"""The Alpaca broker (alpaca-py). Importing this package does not load alpaca-py."""

from tradebot.broker.alpaca.adapter import AlpacaBroker

__all__ = ["AlpacaBroker"]
