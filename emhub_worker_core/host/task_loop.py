"""Run one handler to its end: the loop every task goes through, in its own thread."""

from __future__ import annotations

import traceback

from ..contract.errors import REFUSALS, TransportError
from ..contract.handler import Outcome, TaskHandler, begin_step, step_floor, wait_seconds


def send_failure(handler: TaskHandler, exc: BaseException) -> None:
    """Report an exception that ends the task: ``error`` and ``done``; ``stack`` too (and
    in the log) unless it is a refusal in words (:data:`~.errors.REFUSALS`)."""
    failure: dict[str, str]
    if isinstance(exc, REFUSALS):
        handler.logger.error("task refused: %s", exc)
        failure = {"error": str(exc)}
    else:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        handler.logger.error("task failed: %s: %s\n%s", type(exc).__name__, exc, stack.rstrip())
        failure = {"error": f"{type(exc).__name__}: {exc}", "stack": stack}
    try:
        # The task's last event: keep what pages read from it (snapshot fields).
        handler.update({**handler.snapshot(), **failure, "done": 1})
    except Exception as send_exc:  # the failure is logged either way; never raise from here
        handler.logger.error("could not report the failure: %s", send_exc)


def pause(handler: TaskHandler) -> bool:
    """Wait between two steps: ``handler.interval``, but never less than the admin's
    ``min_interval`` unless the step just made marked progress. True if stopping.

    The loop waits on the stop event itself rather than through ``handler.wait``, so a
    handler that overrides ``wait`` cannot undo the floor.
    """
    return handler.context.stop_event.wait(wait_seconds(handler.interval, step_floor(handler)))


def run_task(handler: TaskHandler, *, max_iterations: int | None = None,
             wait: bool = True) -> Outcome:
    """Run ``handler`` until done, stopped, failed or ``max_iterations`` steps.

    A :class:`~emhub_worker_core.contract.errors.TransportError` escaping a step (EMhub out of
    reach even after the client's retries) does not end the task: it is logged and the
    step is tried again after the interval. Any other exception ends the task with an
    error event. Waits between steps follow :func:`pause` (the ``min_interval`` floor and
    the progress rule). ``wait=False`` skips the waits between steps (tests).
    """
    try:
        try:
            while True:  # EMhub out of reach during setup: wait, do not fail the task
                try:
                    handler.setup()
                    break
                except TransportError as exc:
                    handler.logger.warning("EMhub unreachable during setup, will retry: %s", exc)
                    if (pause(handler) if wait else handler.stopping):
                        return Outcome.STOPPED
            while not handler.finished and not handler.stopping:
                if max_iterations is not None and handler.count >= max_iterations:
                    return Outcome.EXHAUSTED
                handler.count += 1
                begin_step(handler)
                try:
                    handler.process()
                except TransportError as exc:
                    handler.logger.warning("EMhub unreachable, will retry: %s", exc)
                if handler.finished:
                    break
                if max_iterations is not None and handler.count >= max_iterations:
                    return Outcome.EXHAUSTED
                if wait and pause(handler):
                    break
            return Outcome.DONE if handler.finished else Outcome.STOPPED
        except (Exception, SystemExit) as exc:
            # SystemExit too: sys.exit() in a handler would otherwise end its thread with
            # neither an event nor done, and the task would stay pending for ever
            send_failure(handler, exc)
            return Outcome.FAILED
    finally:
        try:
            handler.teardown()
        except (Exception, SystemExit) as exc:
            handler.logger.error("teardown failed: %s: %s", type(exc).__name__, exc)
