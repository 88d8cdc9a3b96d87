"""The running bot: wiring of listener, planner, executor, broker and journal (``tradebot run``)."""
