"""``tradebot``: the entry point, and the one place errors become exit codes.

Commands are registered by import path in :data:`COMMANDS` and imported only when invoked, so
``tradebot --help`` never loads alpaca-py, websockets or pandas.
"""

from __future__ import annotations

import sys
import traceback

import click

from tradebot import __version__
from tradebot.cli.lazy import LazyGroup
from tradebot.cli.logs import configure_logging
from tradebot.cli.options import verbose_option
from tradebot.exceptions import TradebotError, exit_code_for
from tradebot.masking import mask

#: command name -> "module:attribute" of a click command; imported lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("tradebot.cli.config_cmd:config", "Validate config.yaml; show effective config."),
    "demo": ("tradebot.cli.demo_cmd:demo", "Offline rehearsal: the whole pipeline in a minute."),
    "run": ("tradebot.cli.run_cmd:run", "Listen to AlphaHub and trade (paper by default)."),
    "plan": ("tradebot.cli.plan_cmd:plan", "Show the orders a signal would make; sends nothing."),
    "replay": ("tradebot.cli.replay_cmd:replay", "Preview an allocation change on past signals."),
    "listen": ("tradebot.cli.listen_cmd:listen", "Print AlphaHub signals as they arrive."),
    "simulate": ("tradebot.cli.simulate_cmd:simulate", "Run a local AlphaHub or Alpaca simulator."),
    "journal": ("tradebot.cli.journal_cmd:journal", "Review the order journal (filter, export)."),
    "positions": ("tradebot.cli.positions_cmd:positions", "Positions per algorithm and net."),
    "report": ("tradebot.cli.report_cmd:report", "P&L, counts and slippage per algorithm."),
    "track": ("tradebot.cli.track_cmd:track", "The algorithm's result, the account's, the gap."),
    "status": ("tradebot.cli.status_cmd:status", "What a running bot is doing right now."),
    "resend": ("tradebot.cli.resend_cmd:resend", "Send a leg again after its order failed."),
    "halt": ("tradebot.cli.halt_cmd:halt", "Kill switch: stop sending orders (or reduce-only)."),
    "resume": ("tradebot.cli.halt_cmd:resume", "Lift a halt: trade again."),
    "explain": ("tradebot.cli.explain_cmd:explain", "The whole story of one leg or one signal."),
    "dashboard": (
        "tradebot.cli.dashboard_cmd:dashboard",
        "Serve the web dashboard over a journal.",
    ),
    "notify": ("tradebot.cli.notify_cmd:notify", "Alerts: send a test message to each URL."),
    "doctor": ("tradebot.cli.doctor_cmd:doctor", "Check that this machine is ready to trade."),
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="tradebot")
@verbose_option
def cli(verbose: int) -> None:
    """tradebot: turn AlphaHub trading signals into broker orders, and journal every step.

    Paper trading is the default everywhere. Start with `tradebot demo` to see the whole
    pipeline offline, `tradebot config check` to validate your config.yaml, and
    `tradebot run --paper` to trade.
    """
    configure_logging(verbose)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map tradebot's exception tree to exit codes (see tradebot.exceptions)."""
    try:
        cli.main(args=argv, prog_name="tradebot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except TradebotError as exc:
        click.echo(f"error: {exc}", err=True)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # a bug: show it whole, but a library's text may quote a URL or key
        click.echo(mask("".join(traceback.format_exception(exc))), err=True, nl=False)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
