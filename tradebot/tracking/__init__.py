"""Tracking the algorithm: how far the account is from what AlphaHub's algorithm did
(``tradebot track``: the algorithm's result, the account's, and the gap between them in parts
that add up to it exactly, :mod:`.chain`), and whether the journal got every leg it sent
(:mod:`.coverage`)."""
