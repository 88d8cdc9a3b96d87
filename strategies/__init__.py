"""Sizing strategies: how many shares an open leg trades.

Each algorithm in ``config.yaml`` names one strategy and its ``params``::

    algorithms:
      16:
        strategy: allocation          # a module in this package ...
        params: {pct: 30, max_positions: 3}
      99:
        strategy: mypkg.sizing:Kelly  # ... or any importable ``module:Class``

Built in: ``fixed_shares``, ``fixed_notional``, ``percent_of_equity`` and ``allocation``.
To add one, drop a module here that defines one subclass of ``SizingStrategy`` (defined in
:mod:`tradebot.core.sizing`, imported from :mod:`strategies.base`) with a ``Params`` model (see
``fixed_shares.py``, the smallest example). :mod:`tradebot.config.strategy` finds it by name.
Strategies are imported and their params validated when the config is loaded
(``tradebot config check`` shows any mistake with its line); nothing is imported while planning.
A module is imported once per process: a change to ``params`` in config.yaml applies to a running
bot, a change to a strategy's code needs a restart.
"""
