"""Local, loopback-only stand-ins for the services tradebot talks to (tests, demos, rehearsals)."""
