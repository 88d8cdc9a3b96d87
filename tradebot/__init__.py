"""tradebot: signal-driven trade execution with a journal a person can audit."""

__version__ = "0.1.0"
