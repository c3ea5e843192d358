import json

import pytest

from emhub_worker_core.contract.events import encode_event


def test_values_become_what_emhub_accepts() -> None:
    event = encode_event({"done": True, "ok": False, "skip": None, "n": 3, "x": 0.5,
                          "queues": {"gpu01": {"max": 64}}, "names": ["a", "b"], "s": "t"})
    assert event == {"done": 1, "ok": 0, "n": 3, "x": 0.5, "s": "t",
                     "queues": '{"gpu01":{"max":64}}', "names": '["a","b"]'}
    assert all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
               for v in event.values())
    assert json.loads(str(event["queues"])) == {"gpu01": {"max": 64}}


def test_nan_is_sent_as_text_and_objects_as_str() -> None:
    event = encode_event({"ratio": float("nan"), "path": __import__("pathlib").Path("/a")})
    assert event == {"ratio": "nan", "path": "/a"}


@pytest.mark.parametrize("bad", [{}, {"skip": None}, {"maxlen": 2}])
def test_empty_events_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        encode_event(bad)


@pytest.mark.parametrize("maxlen", ["2", 2.5, True, 0])
def test_maxlen_must_be_a_positive_int(maxlen: object) -> None:
    with pytest.raises(ValueError, match="maxlen"):
        encode_event({"maxlen": maxlen, "a": 1})


def test_non_string_top_level_keys_become_text() -> None:
    assert encode_event({1: "x", None: 2, "": 3}) == {"1": "x", "null": 2, "_": 3}
