"""A small validator for the OpenAPI 3.0 schema subset Alpaca's document uses.

Checks ``$ref``, ``type`` (with ``nullable``), ``enum``, ``required``, ``properties``, ``items``,
``minLength``/``maxLength`` and the ``date-time``/``uuid`` formats; enough to hold the local server
to the published shapes without a new dependency.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def validate(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        validate(spec, spec["components"]["schemas"][name], value, where)
        return
    if value is None:
        assert schema.get("nullable", False), f"{where}: null where not nullable"
        return
    kind = schema.get("type")
    if kind:
        assert isinstance(value, _TYPES[kind]), f"{where}: {value!r} is not {kind}"
        assert not (kind == "integer" and isinstance(value, bool)), f"{where}: bool as integer"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, str):
        assert len(value) >= schema.get("minLength", 0), f"{where}: too short"
        assert len(value) <= schema.get("maxLength", 10**9), f"{where}: too long"
        if schema.get("format") == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        if schema.get("format") == "uuid":
            uuid.UUID(value)
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            assert name in value, f"{where}: missing required {name!r}"
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                validate(spec, sub, value[name], f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(spec, schema["items"], item, f"{where}[{i}]")
