"""A test kit for plugin authors: run a handler without a server and look at what it sent.

::

    from emhub_worker_core.testing import FakeEMhub, FakeRunner, run_handler

    def test_my_handler():
        result = run_handler(MyHandler, {"name": "my-task", "args": {"x": 1}}, iterations=2)
        assert result.events[-1]["done"] == 1

The four built-in plugins test themselves with this kit.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, Union

from .contract.commands import CommandResult, check_result
from .contract.emhub_services import InMemoryServices
from .contract.errors import CommandNotFound
from .contract.events import EncodedEvent
from .contract.handler import HandlerFactory, Outcome, TaskContext, TaskHandler
from .contract.task import Task
from .host.task_loop import run_task

_ids = itertools.count(1)


@dataclass
class HandlerRun:
    """What :func:`run_handler` observed."""

    handler: TaskHandler
    outcome: Outcome
    events: list[EncodedEvent] = field(default_factory=list)

    @property
    def last(self) -> EncodedEvent:
        return self.events[-1]

    @property
    def done(self) -> bool:
        return any("done" in e for e in self.events)

    @property
    def errors(self) -> list[EncodedEvent]:
        return [e for e in self.events if "error" in e]


def make_task(task: Union[Task, Mapping[str, Any]]) -> Task:
    """A :class:`Task` from a dict; ``id`` is made up when missing."""
    if isinstance(task, Task):
        return task
    data = dict(task)
    data.setdefault("id", f"1700000000000-{next(_ids)}")
    data.setdefault("args", {})
    return Task.from_json(data)


def make_context(task: Union[Task, Mapping[str, Any]], *, config: Mapping[str, Any] | None = None,
                 services: Any = None, runner: Any = None, plugin: str = "test",
                 events: list[EncodedEvent] | None = None,
                 clock: Callable[[], float] | None = None,
                 min_interval: float = 0.0, state_dir: Path | None = None) -> TaskContext:
    """A :class:`TaskContext` whose events are appended to ``events``.

    ``min_interval`` is the admin's floor on waits; 0 (none) by default so tests are quick.
    ``state_dir`` is the plugin's state folder the host would give (none by default).
    A ``clock`` drives both :attr:`TaskContext.clock` and :attr:`TaskContext.monotonic`
    (a :class:`FakeClock`'s :meth:`FakeClock.monotonic` for the latter).
    """
    sink = events if events is not None else []
    ctx = TaskContext(task=make_task(task), send=sink.append, plugin=plugin,
                      config=dict(config or {}), services=services or FakeEMhub(),
                      runner=runner or FakeRunner(), min_interval=min_interval,
                      state_dir=state_dir)
    if clock is not None:
        ctx.clock = clock
        ctx.monotonic = getattr(clock, "monotonic", clock)
    return ctx


def run_handler(factory: HandlerFactory, task: Union[Task, Mapping[str, Any]], *,
                iterations: int | None = 1, config: Mapping[str, Any] | None = None,
                services: Any = None, runner: Any = None, wait: bool = False,
                clock: Callable[[], float] | None = None,
                min_interval: float = 0.0, state_dir: Path | None = None) -> HandlerRun:
    """Build the handler for ``task`` and run it through the host's own loop.

    :param iterations: how many ``process()`` steps at most (``None``: until done/stop).
    :param wait: honour the handler's interval between steps (default: no waiting).
    :param min_interval: the admin's floor the host would apply (with ``wait=True``).
    :param state_dir: the folder the host would give the plugin for durable state.
    """
    events: list[EncodedEvent] = []
    context = make_context(task, config=config, services=services, runner=runner,
                           events=events, clock=clock, min_interval=min_interval,
                           state_dir=state_dir)
    handler = factory(context)
    outcome = run_task(handler, max_iterations=iterations, wait=wait)
    return HandlerRun(handler, outcome, events)


class FakeClock:
    """A clock for :func:`run_handler`'s ``clock``: time stands still until :meth:`advance`.

    ``self.context.clock()`` in a handler returns :attr:`now`, and
    ``self.context.monotonic()`` :meth:`monotonic`; a test moves both forward with
    :meth:`advance` (from a :class:`FakeRunner` callable, say) to reach a heartbeat or an
    age rule without waiting, or the wall clock alone with :meth:`step` (an NTP step). It
    does not shorten :meth:`TaskHandler.wait`: run with ``wait=False``.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = float(start)
        self._stepped = 0.0  # how far the wall clock was stepped away from the monotonic one

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        """The fake :attr:`TaskContext.monotonic`: moved by :meth:`advance` only."""
        return self.now - self._stepped

    def advance(self, seconds: float) -> float:
        """Move both clocks ``seconds`` forward; return the new wall time."""
        self.now += seconds
        return self.now

    def step(self, seconds: float) -> float:
        """Step the wall clock alone (NTP; negative: back); return the new wall time."""
        self.now += seconds
        self._stepped += seconds
        return self.now


class FakeEMhub(InMemoryServices):
    """In-memory stand-in for the EMhub calls handlers make; every call is in :attr:`calls`.

    Values are deep-copied in and out, like JSON over HTTP, and ``update_session_extra``
    refuses ``None`` anywhere in its data, as a careful EMhub page would need.
    """


Response = Union[str, tuple[Any, ...], CommandResult, Callable[[Sequence[str]], Any], BaseException]


class FakeRunner:
    """A command runner that replays canned outputs; records every call in :attr:`calls`.

    ``responses`` maps an argv tuple, or a program name, to: stdout text; a tuple
    ``(stdout, stderr, returncode)``; a :class:`CommandResult`; an exception to raise;
    or a callable taking the argv and returning any of those. Unknown programs raise
    :class:`CommandNotFound`, like a missing binary.
    """

    def __init__(self, responses: Mapping[Any, Response] | None = None) -> None:
        self.responses: dict[Any, Response] = dict(responses or {})
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], *, timeout: float = 60.0, check: bool = True,
            env: Mapping[str, str] | None = None) -> CommandResult:
        args = tuple(str(a) for a in argv)
        self.calls.append(args)
        response = self.responses.get(args, self.responses.get(args[0]))
        if response is None:
            raise CommandNotFound(args, f"command not found: {args[0]}")
        if callable(response) and not isinstance(response, BaseException):
            response = response(args)
        if isinstance(response, BaseException):
            raise response
        if isinstance(response, CommandResult):
            result = response
        elif isinstance(response, tuple):
            stdout, stderr, code = (list(response) + ["", 0])[:3]
            result = CommandResult(args, int(code), str(stdout), str(stderr))
        else:
            result = CommandResult(args, 0, str(response), "")
        return check_result(result) if check else result


__all__ = ["FakeEMhub", "FakeRunner", "FakeClock", "HandlerRun", "Outcome", "make_context",
           "make_task", "run_handler", "run_task", "as_unprivileged", "UNPRIVILEGED_UID",
           "reachable_tmp_dir"]


#: The account :func:`as_unprivileged` runs as (``nobody`` on Debian).
UNPRIVILEGED_UID = 65534


def as_unprivileged(argv: Sequence[str]) -> None:
    """Run ``argv`` (say ``["ln", "-s", target, link]``) as an unprivileged account, the
    way a microscope PC or a job user plants names and links: with ``setpriv`` to uid/gid
    65534 and no groups when the test runs as root (a link root made itself would be
    trusted where one of a stranger's is not), as the test's own user otherwise. Raises
    ``subprocess.CalledProcessError`` if it fails (the folder must be writable by that
    account: ``os.chown(folder, UNPRIVILEGED_UID, UNPRIVILEGED_UID)``)."""
    import os
    import subprocess

    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}",
                  "--clear-groups"]
    subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def reachable_tmp_dir() -> Iterator[Path]:
    """A fresh temporary folder every account can reach (0755; pytest's ``tmp_path`` is
    under a 0700 folder when the suite runs as root), removed with all in it afterwards.
    Give the parts a stranger writes to :data:`UNPRIVILEGED_UID` with ``os.chown``."""
    folder = Path(tempfile.mkdtemp(prefix="emworker-test-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
