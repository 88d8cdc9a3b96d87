"""``tradebot doctor``: is this machine ready to trade unattended?

Each check answers with one :class:`~tradebot.doctor.findings.Finding` (ok, skipped, warning or
error, and a one-line reason); the command exits 0, 1 or 2 by the worst of them. The checks, in
the order they are printed:

* **config**: the file is valid (the loader's ``FILE:LINE: key.path: what is wrong``) and leaves
  something to trade; its warnings are warnings here;
* **alphahub**: the credentials are accepted (a login: it creates a session, changes nothing);
* **broker**: the Alpaca keys are accepted (``GET /v2/account``, read-only);
* **clock**: this machine's clock against the broker's (``GET /v2/clock``, its ``timestamp``);
* **journal**: the journal's folder is writable (the file is not touched: a running bot may hold
  it), the disk's free space, and how fast the journal grows (rows a day from its own recent
  history), or, with ``journal.url``, PostgreSQL reachable;
* **dashboard**: its port is free.

With ``broker.name: sim`` the broker and clock checks are skipped (said so, not failed). Every
reason passes through :func:`tradebot.masking.mask`: no secret is printed.
"""
