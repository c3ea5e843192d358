"""The live feed: settled movies only, in order, never twice, replaced atomically, ended."""

from __future__ import annotations

import os
from pathlib import Path

from emworker_session_otf.feed import END_MARKER, MovieFeed, SettledMovies


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_only_settled_movies_are_fed_in_order_and_never_twice(tmp_path: Path) -> None:
    raw, otf = tmp_path / "raw", tmp_path / "otf"
    raw.mkdir()
    otf.mkdir()
    clock = Clock()
    movies = SettledMovies(raw, lambda rel: rel.endswith("fractions.tiff"), 60, clock,
                           raw_root=tmp_path)
    (raw / "a_fractions.tiff").write_bytes(b"1")
    (raw / "notes.xml").write_bytes(b"x")
    (raw / ".hidden_fractions.tiff").write_bytes(b"x")
    assert movies.scan() == [] and movies.pending == 1
    clock.now += 30
    (raw / "b_fractions.tiff").write_bytes(b"1")
    assert movies.scan() == []
    clock.now += 31
    (raw / "a_fractions.tiff").write_bytes(b"12")  # still being written: starts again
    assert movies.scan() == []
    clock.now += 30
    assert movies.scan() == [str(raw / "b_fractions.tiff")]
    clock.now += 31
    assert movies.scan() == [str(raw / "a_fractions.tiff")]

    feed = MovieFeed(otf, tmp_path)
    feed.extend([str(raw / "b_fractions.tiff"), str(raw / "a_fractions.tiff")])
    inode = os.stat(feed.path).st_ino
    feed.extend([str(raw / "c_fractions.tiff")])
    assert os.stat(feed.path).st_ino != inode  # replaced, never rewritten in place
    feed.end()
    lines = feed.path.read_text().splitlines()
    assert lines[-1] == END_MARKER and len(lines) == 4
    assert not list(otf.glob(".movies*"))  # no temporary file left behind

    again = MovieFeed(otf, tmp_path)
    assert again.load() == lines[:-1] and again.ended
    restarted = SettledMovies(raw, lambda rel: rel.endswith("fractions.tiff"), 0, clock)
    restarted.mark_known(again.movies)
    assert restarted.scan() == [] and restarted.scan() == []


def test_the_feed_is_split_at_newlines_only(tmp_path: Path) -> None:
    otf = tmp_path / "otf"
    otf.mkdir()
    # a "\r#END\r" name (refused since, but a feed written before may hold it) never ends
    # the feed, and a line with a control character is not a movie
    (otf / "movies.txt").write_bytes(b"/raw/a_fractions.tiff\n/raw/b\r#END\r_fractions.tiff\n")
    feed = MovieFeed(otf, tmp_path)
    assert feed.load() == ["/raw/a_fractions.tiff"] and not feed.ended
