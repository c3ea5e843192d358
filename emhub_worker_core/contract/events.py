"""Make events acceptable to EMhub, in one place.

EMhub stores each event as a Redis stream entry, whose values may only be str, int or
float: it refuses ``None``, booleans, lists and dicts with an error (and the event is lost).
EMhub's pages then ``json.loads`` the nested values in Python and ``JSON.parse`` them in
the browser, and both must succeed.

:func:`encode_event` is total over values: whatever a handler puts in an event becomes a
top-level ``str``/``int``/``float``, or a string holding strict JSON (no ``NaN`` or
``Infinity``, which ``JSON.parse`` rejects), never an exception. The rules, one per kind
of value, are the table in ``docs/events.rst``; keep the two in step.

Cost: plain data (exact dicts with string keys, lists, tuples, finite numbers, strings)
goes straight to the C JSON encoder after one pass over its containers; anything else
takes the total walk, :func:`_jsonable`. Tests check both give the same text
(``bench/encode_event.py`` measures the difference).
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import re
from collections.abc import Mapping  # typing.Mapping's isinstance is ten times slower
from typing import Any, Dict, Union

Scalar = Union[str, int, float]
EncodedEvent = Dict[str, Scalar]
JSONValue = Union[None, bool, int, float, str, list["JSONValue"], Dict[str, "JSONValue"]]

#: Containers nested deeper than this are replaced by a note (Python's ``json.loads`` in
#: EMhub's pages recurses, and would fail somewhere below 1000 levels).
MAX_DEPTH = 64
DEEP_NOTE = f"<nested deeper than {MAX_DEPTH} levels>"
CYCLE_NOTE = "<cycle>"
EMPTY_KEY = "_"
_FAST_INT = 1 << 62  # ints below this always print

_CONTAINERS = (list, tuple, set, frozenset, collections.deque)
_NESTED = (Mapping, *_CONTAINERS)


def _text(value: str) -> str:
    """A plain ``str`` that encodes to UTF-8: lone surrogates (from undecodable file
    names) become ``\\udcff``-style escapes instead of failing in Redis."""
    plain = str.__str__(value)  # a str subclass's __str__ may lie or raise
    try:
        plain.encode("utf-8")
    except UnicodeEncodeError:
        return plain.encode("utf-8", "backslashreplace").decode("utf-8")
    return plain


def _bytes_text(value: bytes | bytearray | memoryview) -> str:
    """Bytes as UTF-8 text, undecodable bytes as ``\\xNN``."""
    return bytes(value).decode("utf-8", "backslashreplace")


def _int(value: int) -> int | str:
    plain = int(value)  # an IntEnum or other int subclass becomes a plain int
    try:
        str(plain)  # what json and Redis will do; refused past sys.get_int_max_str_digits()
    except ValueError:
        return f"<integer of {plain.bit_length()} bits>"
    return plain


def _str_of(value: object) -> str:
    """``str(value)``; its ``repr`` if ``__str__`` raises; a note if both do."""
    for show in (str, repr):
        try:
            return _text(show(value))
        except Exception:  # a broken __str__ must not lose the rest of the event
            continue
    return f"<unprintable {type(value).__name__}>"


def _key(key: object) -> str:
    """A dict key as JSON and Redis want it: a non-empty string."""
    if isinstance(key, str):
        text = _text(key)
    elif key is None or isinstance(key, (bool, int, float)):
        text = json.dumps(_jsonable(key, 0, set()))  # 1 -> "1", True -> "true", nan -> "null"
    else:
        text = _scalar_text(key)
    return text or EMPTY_KEY


def _unique(key: str, taken: Mapping[str, object]) -> str:
    """Two keys that print alike (``1`` and ``"1"``) both stay: the second gets ``#2``."""
    if key not in taken:
        return key
    n = 2
    while f"{key}#{n}" in taken:
        n += 1
    return f"{key}#{n}"


def _scalar_text(value: object) -> str:
    """The text of a value that is neither a number nor a container."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_text(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, str):
        return _text(value)
    return _str_of(value)


def _sorted_members(value: set[Any] | frozenset[Any]) -> list[Any]:
    """A set's members in a stable order: natural when comparable, else by their text."""
    try:
        return sorted(value)
    except Exception:  # mixed types (1 and "a") do not compare
        return sorted(value, key=_str_of)


def _plain(value: Any) -> bool:
    """A value JSON takes as it is (checked inline: most members of a snapshot are)."""
    kind = type(value)
    return (kind is str and value.isascii()) or (kind is int and -_FAST_INT < value < _FAST_INT) \
        or (kind is float and math.isfinite(value)) or value is None


def _jsonable(value: Any, depth: int, path: set[int]) -> JSONValue:
    """``value`` as strict-JSON-ready data: NaN/infinity become ``null``, keys strings."""
    kind = type(value)  # exact-type fast paths first: snapshots hold thousands of these
    if kind is str:
        return value if value.isascii() else _text(value)
    if kind is int:
        return value if -_FAST_INT < value < _FAST_INT else _int(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if kind is not dict and kind is not list and not isinstance(value, _NESTED):
        return _scalar_text(value)
    if depth >= MAX_DEPTH:
        return DEEP_NOTE
    if id(value) in path:
        return CYCLE_NOTE
    path.add(id(value))
    try:
        if kind is dict or isinstance(value, Mapping):
            out: dict[str, JSONValue] = {}
            try:
                pairs = list(value.items())
            except Exception:  # a broken Mapping: its text is all we can send
                return _str_of(value)
            for key, item in pairs:
                text = key if type(key) is str and key and key.isascii() else _key(key)
                if text in out:
                    text = _unique(text, out)
                out[text] = item if _plain(item) else _jsonable(item, depth + 1, path)
            return out
        items = _sorted_members(value) if isinstance(value, (set, frozenset)) else value
        return [item if _plain(item) else _jsonable(item, depth + 1, path) for item in items]
    finally:
        path.discard(id(value))


def json_safe(value: Any) -> JSONValue:
    """``value`` as data that ``json.dumps(..., allow_nan=False)`` always accepts, by the
    same rules as nested event values (for other payloads, e.g. worker specs)."""
    return _jsonable(value, 0, set())


_SEPARATORS = (",", ":")
# json's escape of a UTF-16 surrogate: a lone one (from a file name) needs the slow path
_SURROGATE = re.compile(r"\\ud[89a-f]", re.IGNORECASE)
_EXACT_NESTED = (dict, list, tuple)


def _refuse(value: object) -> None:
    raise TypeError("not plain JSON")  # sends the value down the slow, total path


def _plain_tree(value: Any) -> bool:
    """True when the C encoder alone gives what :func:`_jsonable` would: exact dicts,
    lists and tuples only, non-empty ``str`` keys, no container seen twice, not too deep.
    Scalars it cannot take (NaN, bytes, sets...) make it raise, which also falls back."""
    seen: set[int] = set()
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if depth >= MAX_DEPTH:
            return False
        if current:  # empty ones hold nothing, and () is one shared object
            if id(current) in seen:
                return False
            seen.add(id(current))
        if type(current) is dict:
            for key in current:
                if type(key) is not str or not key:
                    return False
            members: Any = current.values()
        else:
            members = current
        for member in members:
            kind = type(member)
            if kind is str or kind is int or kind is float or member is None or kind is bool:
                continue
            if kind is dict or kind is list or kind is tuple:
                stack.append((member, depth + 1))
            elif isinstance(member, _EXACT_NESTED):
                return False  # a subclass (OrderedDict...): its keys are not checked here
    return True


def _fast_json(value: Any) -> str | None:
    """The JSON text by the C encoder alone, or None when the total walk is needed."""
    if type(value) not in _EXACT_NESTED or not _plain_tree(value):
        return None
    try:
        text = json.dumps(value, separators=_SEPARATORS, allow_nan=False, default=_refuse)
    except (TypeError, ValueError, RecursionError):
        return None
    return None if _SURROGATE.search(text) else text


def _encode_value(value: Any) -> Scalar | None:
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int subclass
        return int(value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        # Redis would store "nan"/"inf": send the same text on purpose, documented.
        return float(value) if math.isfinite(value) else str(float(value))
    if isinstance(value, _NESTED):
        fast = _fast_json(value)
        if fast is not None:
            return fast
        return json.dumps(_jsonable(value, 0, set()), separators=_SEPARATORS, allow_nan=False)
    return _scalar_text(value)


def encode_event(event: Mapping[Any, Any]) -> EncodedEvent:
    """Return a copy of ``event`` that EMhub's ``update_task`` accepts.

    ``None`` values are dropped, booleans become 0/1, NaN and infinities the text
    ``"nan"``/``"inf"``/``"-inf"``, containers a strict JSON string (NaN inside is
    ``null``), anything else its text. Keys become non-empty strings. The full table is
    in ``docs/events.rst``. Two things are the caller's mistake and raise
    :class:`ValueError`: ``maxlen`` that is not a positive int (EMhub passes it to XADD),
    and an event with nothing left to send.
    """
    encoded: EncodedEvent = {}
    for raw_key, value in list(event.items()):
        key = _key(raw_key)
        if key == "maxlen":
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"event 'maxlen' must be a positive int, got "
                                 f"{_str_of(value)} ({type(value).__name__})")
        out = _encode_value(value)
        if out is not None:
            encoded[_unique(key, encoded)] = out
    if not encoded or set(encoded) == {"maxlen"}:
        raise ValueError("an event needs at least one field besides 'maxlen'")
    return encoded
