"""Tracking the algorithm: how far the account is from what AlphaHub's algorithm did, and
whether the journal got every leg it sent (:mod:`.coverage`)."""
