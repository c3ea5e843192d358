"""encode_event is total: a table of hostile values, alone and nested in random shapes.

Each result must be what EMhub stores (a plain str/int/float, finite) and, for containers,
strict JSON that a browser's ``JSON.parse`` takes: no NaN, no Infinity, string keys.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import json
import random
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from emhub_worker_core.contract.events import (
    CYCLE_NOTE,
    DEEP_NOTE,
    MAX_DEPTH,
    _fast_json,
    _jsonable,
    encode_event,
)


class Colour(enum.IntEnum):
    RED = 1


class BrokenStr:
    def __str__(self) -> str:
        raise RuntimeError("no str")


class BrokenBoth:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class LyingStr(str):
    def __str__(self) -> str:
        raise RuntimeError("a str subclass that cannot print itself")


def _cycle() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


HOSTILE: list[Any] = [
    None, True, False, 0, -1, 2**63, 10**5000, -(10**5000), Colour.RED,
    0.5, -0.0, float("nan"), float("inf"), float("-inf"), 1e308,
    "", "text", "\udcff\udcfe undecodable file name", "nul\x00byte", "ünïcödé ✓",
    LyingStr("sub"), b"bytes", b"\xff\xfe", bytearray(b"ba"), memoryview(b"mv"),
    Path("/data/EPU"), PurePosixPath("rel/x"), datetime.datetime(2026, 1, 2, 3, 4, 5),
    datetime.date(2026, 1, 2), datetime.time(3, 4), decimal.Decimal("NaN"),
    decimal.Decimal("1.5"), uuid.UUID(int=1), complex(1, 2), object(), BrokenStr(),
    BrokenBoth(), Exception("boom"), type, len, range(3),
    {1, "a", None}, frozenset({2.5, float("nan")}), (1, 2), collections.deque([1]),
    {Path("/a"): 1, 1: 2, "1": 3, None: 4, 2.5: 5, float("nan"): 6, False: 7, (1, 2): 8,
     b"k": 9, "": 10},
    {"nested": {"nan": float("nan"), "inf": [float("inf")]}}, _cycle(), _deep(MAX_DEPTH + 50),
    ["x" * 1_000_000],
]


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in JSON: JSON.parse rejects it")
    return json.loads(text, parse_constant=refuse)


def check_sent(event: dict[str, Any]) -> None:
    for key, value in event.items():
        assert isinstance(key, str) and key, key
        assert type(value) in (str, int, float), (key, value)
        if isinstance(value, float):
            assert value == value and abs(value) != float("inf"), (key, value)
        if isinstance(value, str):
            value.encode("utf-8")  # lone surrogates would fail in Redis
        if isinstance(value, int):
            str(value)  # Python prints ints of at most 4300 digits


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: type(v).__name__)
def test_every_hostile_value_encodes(value: Any) -> None:
    event = encode_event({"v": value, "keep": 1})
    check_sent(event)
    assert event["keep"] == 1
    if isinstance(value, (dict, list, tuple, set, frozenset, collections.deque)):
        _strict_json(str(event["v"]))


def _random_shape(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 6 or pick < 0.4:
        return rng.choice(HOSTILE[:-3])  # no cycle, deep or huge atoms: keep it quick
    if pick < 0.7:
        keys = [rng.choice(HOSTILE[:40]) if rng.random() < 0.5 else str(i)
                for i in range(rng.randint(0, 4))]
        return {key if _hashable(key) else repr(type(key)): _random_shape(rng, depth + 1)
                for key in keys}
    kind = rng.choice([list, tuple])
    return kind(_random_shape(rng, depth + 1) for _ in range(rng.randint(0, 4)))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("seed", range(300))
def test_random_nested_shapes_encode(seed: int) -> None:
    rng = random.Random(seed)
    value = _random_shape(rng)
    event = encode_event({"data": value, "more": [value, value], "n": 1})
    check_sent(event)
    _strict_json(str(event["more"]))


def test_nan_inside_json_is_null_and_keys_are_text() -> None:
    event = encode_event({"q": {"ratio": float("nan"), Path("/a"): [float("-inf"), 1.5]}})
    assert _strict_json(str(event["q"])) == {"ratio": None, "/a": [None, 1.5]}


def test_keys_that_print_alike_are_all_kept() -> None:
    event = encode_event({"d": {1: "int", "1": "str"}, 2: "a", "2": "b"})
    assert _strict_json(str(event["d"])) == {"1": "int", "1#2": "str"}
    assert (event["2"], event["2#2"]) == ("a", "b")


def test_cycles_and_depth_become_notes() -> None:
    assert _strict_json(str(encode_event({"c": _cycle()})["c"])) == [1, CYCLE_NOTE]
    deep = _strict_json(str(encode_event({"d": _deep(MAX_DEPTH + 10)})["d"]))
    for _ in range(MAX_DEPTH):
        (deep,) = deep
    assert deep == DEEP_NOTE


def test_a_shared_subvalue_is_not_a_cycle() -> None:
    shared = [1, 2]
    assert _strict_json(str(encode_event({"s": [shared, shared]})["s"])) == [[1, 2], [1, 2]]


def test_documented_texts() -> None:
    event = encode_event({"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"),
                          "b": b"\xffok", "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
                          "big": 10**5000, "broken": BrokenBoth(), "e": Colour.RED,
                          "set": {3, 1, 2}, "mixed": {1, "a"}})
    assert event == {"nan": "nan", "inf": "inf", "ninf": "-inf", "b": "\\xffok",
                     "when": "2026-01-02T03:04:05", "big": "<integer of 16610 bits>",
                     "broken": "<unprintable BrokenBoth>", "e": 1, "set": "[1,2,3]",
                     "mixed": '[1,"a"]'}
    assert type(event["e"]) is int


def _slow(value: Any) -> str:
    return json.dumps(_jsonable(value, 0, set()), separators=(",", ":"), allow_nan=False)


@pytest.mark.parametrize("seed", range(300))
def test_the_fast_path_says_exactly_what_the_total_walk_says(seed: int) -> None:
    value = _random_shape(random.Random(seed))
    for candidate in (value, [value], {"k": value}, [HOSTILE[seed % len(HOSTILE)]]):
        fast = _fast_json(candidate)
        assert fast is None or fast == _slow(candidate), candidate


def test_plain_snapshots_take_the_fast_path_and_odd_ones_do_not() -> None:
    plain = {"entries": [{"path": "/a", "n": 1, "x": 0.5, "ok": True, "none": None,
                          "ü": "ünïcödé", "t": (1, 2)}]}
    assert _fast_json(plain) == _slow(plain)
    for odd in ({1: "a"}, {"": 1}, [float("nan")], ["\udcff"], [{1, 2}], [b"x"],
                collections.OrderedDict(a=1), [collections.OrderedDict(a=1)],
                _deep(MAX_DEPTH + 1), _cycle(), [10**5000]):
        assert _fast_json(odd) is None, odd
    shared = [1]
    assert _fast_json([shared, shared]) is None  # the walk handles shared members


PLAIN_ATOMS: list[Any] = ["", "a", "ünï", "✓ ok", "😀", 0, -7, 2**61, 0.1, -1e300, True,
                          False, None]


def _plain_shape(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 8 or pick < 0.4:
        return rng.choice(PLAIN_ATOMS)
    if pick < 0.7:
        return {rng.choice(["k", "ü", "path", "n"]) + str(i): _plain_shape(rng, depth + 1)
                for i in range(rng.randint(0, 5))}
    kind = rng.choice([list, tuple])
    return kind(_plain_shape(rng, depth + 1) for _ in range(rng.randint(0, 5)))


@pytest.mark.parametrize("seed", range(200))
def test_plain_random_shapes_agree_on_both_paths(seed: int) -> None:
    value = [_plain_shape(random.Random(seed))]
    fast = _fast_json(value)
    assert fast == _slow(value) or (fast is None and "😀" in repr(value)), value
