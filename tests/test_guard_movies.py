"""The guard's movie rule (which file is a movie) and settle tracker (when it stopped
changing), against the names and clocks they exist for."""

from __future__ import annotations

import random

import pytest

from emhub_worker_core.guard import (
    DEFAULT_MOVIE_SUFFIXES,
    MovieRule,
    SettleTracker,
)

# -- MovieRule --------------------------------------------------------------------------

MOVIES = ["FoilHole_1_Data_2_20240301_102001_fractions.tiff",   # EPU
          "FoilHole_1_Data_2_20240301_102001_Fractions.tiff",
          "FoilHole_1_Data_2_20240301_102001_EER.eer",          # EER
          "FoilHole_1_Data_2_20240301_102001_Fractions.mrc",    # Falcon
          "stack_0001.mrcs"]
NOT_MOVIES = ["FoilHole_1_Data_2.jpg", "FoilHole_1_Data_2.xml", "EpuSession.dm",
              "Krios01_gain_20240301.mrc", "20240301_EER_GainReference.gain",
              "Krios01_Gain_fractions.tiff", "gain_EER.eer",           # gain references
              "grid.mrc", "image.tif", "atlas.tiff", "x_fractions.TIFF",  # case as written
              ".FoilHole_1_fractions.tiff.AbC123", ".x_fractions.tiff",   # hidden / temp
              "x_fractions.tiff.part", "x\n_fractions.tiff", "x\r#END\r_fractions.tiff",
              "x\x85_EER.eer", "tiff", ""]


def test_movie_rule_default() -> None:
    rule = MovieRule()
    assert rule.suffixes == DEFAULT_MOVIE_SUFFIXES
    for name in MOVIES:
        assert rule(name) and rule(f"Images-Disc1/GridSquare_1/Data/{name}"), name
    for name in NOT_MOVIES:
        assert not rule(name) and not rule(f"Data/{name}"), name
    assert rule("a.gain.dir/x_fractions.tiff")   # only the file's own name is judged
    assert rule("Data/é_fractions.tiff")


def test_movie_rule_count_agrees_with_the_rule_name_by_name() -> None:
    rule = MovieRule()
    assert rule.count([]) == 0
    assert rule.count(MOVIES) == len(MOVIES)        # the one-pass path
    assert rule.count(NOT_MOVIES[:2] + MOVIES) == len(MOVIES)
    assert rule.count(MOVIES + NOT_MOVIES) == len(MOVIES)
    pool = MOVIES + NOT_MOVIES + ["a.jpg", "b_fractions.tiff", "é.eer", "x/y"]
    rng = random.Random(19)
    for _ in range(500):
        names = rng.sample(pool, rng.randint(0, 12))
        assert rule.count(names) == sum(map(rule, names)), names
    overlapping_suffixes = MovieRule(("fractions.tiff", "_fractions.tiff", ".eer"))
    assert overlapping_suffixes.count(["a_fractions.tiff", "b.eer", "c.jpg"]) == 2


def test_movie_rule_from_one_setting() -> None:
    assert MovieRule.from_config({}) == MovieRule()
    custom = MovieRule.from_config({"movie_suffixes": [".tif"]})
    assert custom("x.tif") and not custom("x_fractions.tiff") and not custom("x_gain.tif")
    for bad in (".eer", [""], [1], ["a/b.eer"], ["x\n"], {"a": 1}):
        with pytest.raises(ValueError):
            MovieRule.from_config({"movie_suffixes": bad})


# -- SettleTracker ----------------------------------------------------------------------

def test_settle_tracker_uses_our_clock_and_restarts_on_change() -> None:
    tracker = SettleTracker(60)
    assert not tracker.observe("a", 10, 1, now=0.0)
    assert tracker.last_change == 0.0 and tracker.since("a") == 0.0
    assert not tracker.observe("a", 10, 1, now=59.0)
    assert not tracker.observe("a", 20, 2, now=59.5)       # grew: the quiet period restarts
    assert tracker.since("a") == 59.5 and tracker.last_change == 59.5
    assert not tracker.observe("a", 20, 2, now=100.0)
    assert tracker.observe("a", 20, 2, now=119.5)
    # an mtime far in the future (a fast acquisition clock) changes nothing
    assert not tracker.observe("b", 1, 10**19, now=200.0)
    assert tracker.observe("b", 1, 10**19, now=260.0)
    assert tracker.pending == 2
    tracker.keep_only(["b"])
    assert tracker.pending == 1 and tracker.since("a") is None
    tracker.forget("b")
    assert tracker.pending == 0
