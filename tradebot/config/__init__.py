"""``config.yaml``: its typed, frozen shape (:mod:`.model`) and how it is read (:mod:`.loader`).

Read it once with :func:`tradebot.config.loader.load_config`; hand components the slice they need.
"""
