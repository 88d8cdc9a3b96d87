"""The AlphaHub signal source: REST login, Phoenix channels, reconnects, de-dup and gaps.

The public API is :class:`Listener` (with :class:`Gap`, :class:`DroppedInput` and
:class:`StateChange`, the values it reports).
"""

from tradebot.alphahub.gaps import Gap
from tradebot.alphahub.listener import DroppedInput, Listener
from tradebot.alphahub.session import StateChange

__all__ = ["DroppedInput", "Gap", "Listener", "StateChange"]
