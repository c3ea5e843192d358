"""The LSF commands the handler runs, each an argv list through the injected runner.

:class:`LSFClient` remembers when this LSF lacks ``-o ... -json`` for ``bqueues`` or
``bhosts`` (before 10.1 Fix Pack 2) and uses the plain ``-w`` text forms from then on.
"""

from __future__ import annotations

from typing import Sequence

from emhub_worker_core import CommandResult, Runner, check_result

from . import parse

#: Words an LSF that does not know ``-o``/``-json`` prints with its usage message.
UNSUPPORTED_HINTS = ("usage", "json", "illegal option", "invalid option", "unknown option")


def unsupported_option(result: CommandResult) -> bool:
    text = f"{result.stderr}\n{result.stdout}".lower()
    return result.returncode != 0 and any(hint in text for hint in UNSUPPORTED_HINTS)


class LSFClient:
    """Runs bqueues/bjobs/bhosts and returns parsed results; raises CommandError on failure."""

    def __init__(self, runner: Runner, timeout: float) -> None:
        self.runner = runner
        self.timeout = timeout
        self.queues_text = False  # True once bqueues -json was refused
        self.hosts_text = False  # True once bhosts -json was refused

    def _run(self, argv: Sequence[str]) -> CommandResult:
        return self.runner.run(list(argv), timeout=self.timeout, check=False)

    def queues(self) -> dict[str, str]:
        """{queue: status} for every queue of the cluster."""
        if not self.queues_text:
            result = self._run(["bqueues", "-o", "queue_name status", "-json"])
            if not unsupported_option(result):
                return parse.queues_from_json(check_result(result).stdout)
            self.queues_text = True
        return parse.queues_from_text(check_result(self._run(["bqueues", "-w"])).stdout)

    def queue_detail(self, queue: str) -> parse.QueueDetail:
        """``bqueues -l <queue>``; raises :class:`CommandError` when LSF refuses."""
        return parse.parse_queue_long(check_result(self._run(["bqueues", "-l", queue])).stdout)

    def jobs(self, queue: str) -> list[parse.Job]:
        """Every unfinished job of ``queue`` (an empty queue is ``[]``, whatever the exit code)."""
        result = self._run(["bjobs", "-q", queue, "-u", "all", "-o",
                            "user jobid stat job_name queue exec_host", "-json"])
        if parse.is_no_jobs(result.stdout, result.stderr):
            return []
        return parse.jobs_from_json(check_result(result).stdout)

    def hosts(self, group: str | None) -> list[parse.HostState]:
        """States of the hosts of ``group`` (a host or host group), or of all hosts for None."""
        target = [group] if group else []
        if not self.hosts_text:
            result = self._run(["bhosts", "-o", "host_name status max run", "-json", *target])
            if not unsupported_option(result):
                return parse.hosts_from_json(check_result(result).stdout)
            self.hosts_text = True
        return parse.hosts_from_text(check_result(self._run(["bhosts", "-w", *target])).stdout)


__all__ = ["LSFClient", "unsupported_option"]
