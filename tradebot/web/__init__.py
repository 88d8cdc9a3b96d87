"""The web dashboard: what the bot is doing, its journal, positions, performance and config.

One Starlette app (:func:`tradebot.web.app.create_app`) over a small :class:`~.sources.Sources`
object serves both the running bot (:func:`tradebot.web.serve.start_dashboard`, inside the bot's
event loop) and ``tradebot dashboard`` (standalone, reading files). Every journal read runs in a
worker thread, never on the loop; pages are Jinja2 templates, live rows arrive by server-sent
events, and the JavaScript (htmx, uPlot) is vendored under ``static/vendor``: nothing is loaded
from another host.
"""
