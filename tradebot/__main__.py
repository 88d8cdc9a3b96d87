"""``python -m tradebot`` is the same as the ``tradebot`` command."""

import sys

from tradebot.cli.main import main

sys.exit(main())
