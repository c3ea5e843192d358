"""Feeding the job: movies that settled in the raw folder are appended to the live feed
(:mod:`.feed`), what cannot be fed is said, and the feed is ended once the session has
been quiet. Owned by :class:`.handler.OtfHandler`."""

from __future__ import annotations

from typing import Callable

from .feed import MovieFeed, SettledMovies
from .inputs import OtfTarget
from .page import SessionPage
from .record import JobRecord, RecordStore
from .reports import TaskReports
from .settings import OtfSettings


class MovieFeeder:
    """The session's settled movies and its feed; a failed write keeps the movies for the
    next step (a full OTF disk), and tracking goes on."""

    def __init__(self, target: OtfTarget, settings: OtfSettings, store: RecordStore,
                 page: SessionPage, reports: TaskReports,
                 monotonic: Callable[[], float]) -> None:
        self.raw_path, self.end_after_idle = target.raw_path, settings.end_after_idle
        self.store, self.page, self.reports, self.monotonic = store, page, reports, monotonic
        self.movies = SettledMovies(target.raw_path, settings.is_movie,
                                    settings.quiet_seconds, monotonic,
                                    raw_root=target.raw_root)
        self.feed = MovieFeed(target.otf_path, target.otf_root)
        self.unfed: list[str] = []  # settled, not yet written (the feed write failed)

    def load(self) -> None:
        """The feed a previous run wrote; one replaced by a link is not read, but said,
        and rewritten from what settles (the workflow may then see a movie again)."""
        try:
            self.movies.mark_known(self.feed.load())
        except OSError as exc:
            self.feed.movies, self.feed.ended = [], False
            self.reports.once(error=f"feed {self.feed.path} not read ({exc}); it is "
                                    "written again from the raw folder")

    def settled_count(self) -> int:
        """Look at the raw folder again (while waiting for the first movies)."""
        self.movies.scan()
        self._report_problems()
        return len(self.movies.settled)

    def start(self, record: JobRecord) -> None:
        """The OTF folder was just made: every movie settled so far goes in."""
        self.load()
        fed = set(self.feed.movies)  # a half-made folder may hold a feed already
        self.unfed = [p for p in sorted(self.movies.settled, key=lambda p:
                                        self.movies.settled[p]) if p not in fed]
        self._write(record)

    def _write(self, record: JobRecord) -> bool:
        """Append the settled movies not yet written; a failed write keeps them for the
        next step, says why, and tracking goes on."""
        if not self.unfed:
            return False
        try:
            self.feed.extend(self.unfed)
        except OSError as exc:
            self.reports.once(error=f"feed {self.feed.path} not written ({len(self.unfed)} "
                                    f"movies waiting): {exc}")
            return False
        count, self.unfed = len(self.unfed), []
        record.movies_fed = len(self.feed.movies)
        self.store.save(record)
        self.page.outdated = True
        self.reports.send(movies_fed=record.movies_fed, new_movies=count)
        return True

    def _report_problems(self) -> None:
        problems = self.movies.problems
        if problems:
            self.reports.once(error="not fed: " + "; ".join(problems[:5]) +
                              (f" (and {len(problems) - 5} more)" if len(problems) > 5
                               else ""))

    def step(self, record: JobRecord) -> None:
        """New settled movies into the feed; the end marker once quiet long enough."""
        if not self.raw_path.is_dir():
            return
        new = self.movies.scan()
        self._report_problems()
        if self.feed.ended:
            if new or self.unfed:
                self.unfed += new
                self.reports.once(error=f"{len(self.unfed)} movies arrived after the feed "
                                        "was ended (#END); not fed (send 'clear' to process "
                                        "the session again)")
            return
        self.unfed += new
        if self._write(record) or self.unfed or self.movies.pending:
            return
        if self.monotonic() - self.movies.last_change >= self.end_after_idle:
            try:
                self.feed.end()
            except OSError as exc:
                self.reports.once(error=f"feed {self.feed.path}: end marker not written: "
                                        f"{exc}")
                return
            record.feed_ended = True
            self.store.save(record)
            self.page.outdated = True
            self.reports.send(feed="ended", movies_fed=record.movies_fed)
