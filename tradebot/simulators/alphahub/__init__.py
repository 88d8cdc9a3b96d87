"""The bundled AlphaHub simulator (see :class:`AlphaHubSimulator`)."""

from tradebot.simulators.alphahub.script import ScriptEntry, load_script, parse_script
from tradebot.simulators.alphahub.server import AlphaHubSimulator

__all__ = ["AlphaHubSimulator", "ScriptEntry", "load_script", "parse_script"]
