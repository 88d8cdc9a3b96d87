"""``tradebot demo``: the whole pipeline, offline, in under a minute."""
