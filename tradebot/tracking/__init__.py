"""``tradebot track``: the algorithm's result, the account's, and the gap between them in parts
that add up to it exactly (:mod:`.chain` says how)."""
