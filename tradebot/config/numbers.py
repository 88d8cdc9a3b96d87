"""The numbers of ``config.yaml``: finite, always. Every float and Decimal key uses these types.

YAML reads ``.inf``, ``-.inf`` and ``.nan`` as numbers, and ``1e999`` as infinity; pydantic
reads the text ``'inf'`` as one too. A float key then accepts infinity wherever it has no upper
bound (``timeout: .inf`` passed the check, then ``run`` failed on it), and NaN passes every
comparison it is not asked. Both are refused here, at the key's line, as "not a finite number".

The range of each key is written on the key itself (``Field(gt=0, le=300)``), never here: pydantic
keeps only one upper bound per field, and a bound here would replace the key's own tighter one.
Every number key has an upper bound (``tests/config/test_numbers.py`` checks both rules on every
key it finds in the model, so a new key is held to them too).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

#: a float key (the durations, in seconds): finite
Finite = Annotated[float, Field(allow_inf_nan=False)]

#: a Decimal key (money, quantities, percents): finite
FiniteDecimal = Annotated[Decimal, Field(allow_inf_nan=False)]

#: the longest duration any key accepts, in seconds: a week
WEEK = 7 * 86400.0

#: the largest amount of money any key accepts, in dollars
MAX_DOLLARS = Decimal(10) ** 12

#: the most shares any key accepts
MAX_SHARES = Decimal(10) ** 9

#: the largest algorithm id: 12 digits, the longest an AlphaHub topic carries
#: (``alphahub/protocol.py`` ``algo_of``); how ids are written is :mod:`.algo_ids`
MAX_ALGO_ID = 10**12 - 1

#: an algorithm id (a key of ``algorithms:``, an item of ``alphahub.algorithms``)
AlgorithmId = Annotated[int, Field(gt=0, le=MAX_ALGO_ID)]
