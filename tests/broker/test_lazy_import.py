"""alpaca-py (and pandas) load only when an Alpaca connection starts: `tradebot --help` is fast."""

from __future__ import annotations

import subprocess
import sys


def test_broker_modules_do_not_import_alpaca() -> None:
    code = (
        "import sys\n"
        "import tradebot.broker.factory, tradebot.broker.alpaca, tradebot.broker.sim\n"
        "import tradebot.broker.errors, tradebot.broker.retry\n"
        "import tradebot.simulators.alpaca.cli\n"
        "from tradebot.cli.main import cli\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('alpaca', 'pandas'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
