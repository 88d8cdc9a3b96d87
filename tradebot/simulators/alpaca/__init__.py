"""A local Alpaca-compatible paper trading server: REST and the trade-updates websocket."""
