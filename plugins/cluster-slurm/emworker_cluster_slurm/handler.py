"""The ``cluster-slurm`` task: every period, one event with Slurm's nodes and jobs for EMhub."""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from emhub_worker_core import CommandError, TaskHandler

from .jsonfmt import NODES_JSON, SINFO_JSON, SQUEUE_JSON, parse_nodes_json, parse_squeue_json
from .model import JobInfo, NodeInfo, build_event, merge_nodes, select_partitions
from .settings import Settings
from .textfmt import SINFO_TEXT, SQUEUE_TEXT, ParseError, parse_sinfo_text, parse_squeue_text


class PollError(Exception):
    """One poll failed; the message names the command and what it said."""


class UnparsableOutput(PollError):
    """The command ran but its output is not the shape expected (e.g. a newer schema)."""


class ClusterSlurmHandler(TaskHandler):
    """Runs until stopped; a failed poll is one ``error`` event and the next period tries again."""

    snapshot_fields = ("queues", "pending", "nodes_down")  # what the Cluster Queues page reads

    def setup(self) -> None:
        self.settings = self.read_settings(Settings)
        self.interval = self.settings.period
        self.mode = self.settings.mode
        self.last_queues: dict[str, Any] | None = None

    def process(self) -> None:
        started = time.monotonic()
        try:
            event = self.poll()
        except PollError as exc:
            self.logger.error("%s", exc)
            failed: dict[str, Any] = {"maxlen": 2, "error": str(exc)}
            if self.last_queues is not None:  # a last-event reader still renders the page
                failed.update(queues=self.last_queues, stale=1)
            self.update(failed)
            return
        event["poll_seconds"] = round(time.monotonic() - started, 3)
        self.last_queues = event["queues"]
        self.logger.info("Sending queues info (%d nodes)", len(event["queues"]))
        self.update(event)

    # -- one poll -------------------------------------------------------------------------
    def poll(self) -> dict[str, Any]:
        nodes, jobs = self._read_json() if self.mode != "text" else self._read_text()
        merged = merge_nodes(nodes)
        all_parts = {p for n in merged.values() for p in n.partitions}
        wanted = select_partitions(all_parts, list(self.settings.partitions),
                                   self.settings.pattern)
        event = build_event(merged, jobs, wanted)
        event["source"] = self.mode
        return event

    def _read_text(self) -> tuple[list[NodeInfo], list[JobInfo]]:
        return (self._run(SINFO_TEXT, parse_sinfo_text),
                self._run(SQUEUE_TEXT, parse_squeue_text))

    def _read_json(self) -> tuple[list[NodeInfo], list[JobInfo]]:
        try:
            try:
                nodes = self._run(SINFO_JSON, parse_nodes_json)
            except UnparsableOutput:  # 23.02+ groups nodes in sinfo --json; scontrol does not
                nodes = self._run(NODES_JSON, parse_nodes_json)
            jobs = self._run(SQUEUE_JSON, parse_squeue_json)
        except PollError as exc:
            if self.mode == "json":
                raise
            self.logger.warning("JSON output unusable, trying the text formats: %s", exc)
            read = self._read_text()  # raises when Slurm is down: then auto stays auto
            self.mode = "text"  # JSON broken, text fine: do not pay for JSON every period
            return read
        self.mode = "json"
        return nodes, jobs

    def _run(self, argv: Sequence[str], parse: Callable[[str], Any]) -> Any:
        command = " ".join(argv)
        try:
            result = self.runner.run(argv, timeout=self.settings.timeout, env=self.settings.env)
        except CommandError as exc:
            raise PollError(f"{command}: {exc.stderr.strip() or exc}") from exc
        try:
            return parse(result.stdout)
        except ParseError as exc:
            raise UnparsableOutput(f"{command}: unparsable output: {exc}") from exc
