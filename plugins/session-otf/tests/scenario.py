"""One OTF session on the real EMhub, run by a real worker process, for the end-to-end tests.

The session's raw folder is made under EMhub's raw root, movies are added as the test
goes, and ``extra.otf`` is read back from EMhub itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from emworker_session_otf.executors.base import session_prefix
from emworker_session_otf.executors.local import LocalExecutor

#: The worker's cwd: this folder, not the repository, so the installed core runs (as from
#: the plugin's own folder in a fresh venv).
HERE = Path(__file__).resolve().parent
WORKFLOW = HERE / "otf_workflow.py"
WORKER = "bench.test"   # no other test uses it; its leftover tasks are deleted first
QUIET = 1.0             # seconds a movie must stay unchanged to be settled


def toml_value(value: Any) -> str:
    return json.dumps(value)  # strings and lists of strings: JSON is TOML enough


class OtfScenario:
    def __init__(self, emhub: Any, tmp: Path, session_id: int, executor: str,
                 env: Mapping[str, str] | None = None, fail: int = 0,
                 end_after_idle: float = 4.0, argv: list[str] | None = None) -> None:
        self.emhub, self.tmp, self.sid, self.executor = emhub, tmp, session_id, executor
        self.env = dict(env or os.environ)
        self.admin = emhub.admin()
        self.raw = emhub.raw_root / f"otf-{executor}-{tmp.name}"
        self.data = self.raw / "Images-Disc1" / "GridSquare_1" / "Data"
        self.otf_root = tmp / "otf"
        self.otf = self.otf_root / f"{self.raw.name}_OTF"
        self.state_dir = tmp / "otf-state"
        self.log = tmp / "worker.log"
        self.worker: subprocess.Popen[bytes] | None = None
        self.movies: list[Path] = []
        self.seen: list[tuple[float, str]] = []  # (when, status) as polled from EMhub
        argv = argv or [sys.executable, str(WORKFLOW), "{movies_list}", "{otf_path}",
                        *([str(fail)] if fail else [])]
        options = 'cpus = "1"\nmemory = "100"\n' if executor == "slurm" else ""
        self.config = emhub.worker_config(tmp / "worker.toml", WORKER, (
            "[plugins.session-otf]\n"
            f"otf_root = {toml_value(str(self.otf_root))}\n"
            f"state_dir = {toml_value(str(self.state_dir))}\n"
            f"min_movies = 3\nquiet_seconds = {QUIET}\nperiod = 0.5\n"
            f"end_after_idle = {end_after_idle}\njob_gone_grace = 30\n\n"
            "[plugins.session-otf.workflows.test]\n"
            f'executor = "{executor}"\nargv = {toml_value(argv)}\n{options}'))
        self._clean_worker_tasks()
        self.admin.call("update_session", {"attrs": {"id": session_id, "extra": {
            "raw": {"path": str(self.raw) + "/", "movies": 0},
            "otf": {"workflow": "test", "host": WORKER, "path": ""}}}}, "session")

    def _clean_worker_tasks(self) -> None:
        for task in self.admin.all_tasks(WORKER):
            if task["worker"] == WORKER:
                self.admin.delete_task(WORKER, task["id"])

    # -- movies ---------------------------------------------------------------------------
    def add_movie(self) -> Path:
        self.data.mkdir(parents=True, exist_ok=True)
        path = self.data / f"FoilHole_{len(self.movies) + 1:04d}_Data_1_fractions.tiff"
        path.write_bytes(os.urandom(4096))
        self.movies.append(path)
        return path

    def feed_lines(self) -> list[str]:
        try:
            return (self.otf / "movies.txt").read_text().splitlines()
        except FileNotFoundError:
            return []

    # -- worker ---------------------------------------------------------------------------
    def create_task(self, **args: Any) -> str:
        return self.admin.create_task(WORKER, "session",
                                      {"action": "otf", "session_id": self.sid, **args})

    def start_worker(self) -> None:
        with open(self.log, "ab") as out:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "emhub_worker_core", "--config", str(self.config),
                 "run"], cwd=HERE, stdout=out, stderr=out, env=self.env)

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(30)
        self.worker = None

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(60)
            except subprocess.TimeoutExpired:
                self.worker.kill()
        self.worker = None

    def otf_extra(self) -> dict[str, Any]:
        otf = self.admin.get_session(self.sid).get("extra", {}).get("otf", {})
        status = otf.get("status", "")
        if not self.seen or self.seen[-1][1] != status:
            self.seen.append((time.time(), status))
        return dict(otf)

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 180) -> None:
        """Poll; the timeout only keeps a broken run from hanging the suite."""
        deadline = time.monotonic() + timeout
        while not check():
            if self.worker is not None and self.worker.poll() is not None:
                raise AssertionError(f"worker exited while waiting for {what}:\n"
                                     + self.log.read_text()[-3000:])
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; extra.otf="
                                     f"{self.otf_extra()}\n" + self.log.read_text()[-3000:])
            time.sleep(0.1)

    def wait_status(self, *statuses: str, timeout: float = 180) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def check() -> bool:
            found.update(self.otf_extra())
            return found.get("status") in statuses
        self.wait_for(f"extra.otf.status in {statuses}", check, timeout)
        return found

    def wait_done(self, task_id: str, timeout: float = 180) -> list[dict[str, str]]:
        self.wait_for(f"task {task_id} done",
                      lambda: self.admin.task_status(WORKER, task_id) == "done", timeout)
        return self.admin.task_history(task_id)

    def run_session(self, movies: int = 3) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """Movies first, then one task and a worker, to the task's end: (history, extra.otf)."""
        for _ in range(movies):
            self.add_movie()
        task = self.create_task()
        self.start_worker()
        history = self.wait_done(task)
        return history, self.otf_extra()

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.state_dir / f"session-{self.sid}.json").read_text())
        return data

    def close(self) -> None:
        self.stop_worker()
        end_local_jobs(self.sid)
        self._clean_worker_tasks()
        self.admin.close()
        shutil.rmtree(self.raw, ignore_errors=True)


def end_local_jobs(session_id: int) -> None:
    """End every live local job of the session. A job outlives its worker by design, and
    the next test of the same session would find it by name and not submit its own."""
    executor = LocalExecutor(Path("/nonexistent"), kill_after=2.0)
    for job in executor.live_jobs(session_prefix(session_id)):
        executor.cancel(job.job_id)
