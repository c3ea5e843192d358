"""Make events acceptable to EMhub, in one place.

EMhub stores each event as a Redis stream entry, whose values may only be str, int or
float: it refuses ``None``, booleans, lists and dicts with an error (and the event is lost).
:func:`encode_event` turns any reasonable event into one it accepts.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Mapping, Union

Scalar = Union[str, int, float]
EncodedEvent = Dict[str, Scalar]


def _encode_value(value: Any) -> Scalar | None:
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int subclass
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # Redis would store "nan"/"inf", which no JSON reader accepts.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        data = sorted(value) if isinstance(value, (set, frozenset)) else value
        return json.dumps(data, default=str, separators=(",", ":"))
    return str(value)


def encode_event(event: Mapping[str, Any]) -> EncodedEvent:
    """Return a copy of ``event`` that EMhub's ``update_task`` accepts.

    ``None`` values are dropped, booleans become 0/1, nested data becomes a JSON string,
    anything else becomes its ``str``. ``maxlen`` must be an integer (EMhub passes it to
    XADD). Raises :class:`ValueError` when nothing is left to send.
    """
    encoded: EncodedEvent = {}
    for key, value in event.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"event keys must be non-empty strings, got {key!r}")
        if key == "maxlen":
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"event 'maxlen' must be a positive int, got {value!r}")
        out = _encode_value(value)
        if out is not None:
            encoded[key] = out
    if not encoded or set(encoded) == {"maxlen"}:
        raise ValueError("an event needs at least one field besides 'maxlen'")
    return encoded
