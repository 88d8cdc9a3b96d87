"""The ``tradebot`` command line. Each command lives in its own module, loaded on first use."""
