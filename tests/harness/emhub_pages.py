"""A real EMhub 1.0.2 with our stand-in extras, whose pages show what our plugins send.

EMhub's PyPI package has the Worker Frames page's template but not its data, and no Create
Session dialog that works: a facility adds both in its instance's ``extra/`` folder. So does
this server, with ``tests/harness/pages_extra/`` (ours: ``data_content.py`` says what it
gives each page; a facility's own extras may differ), in a run folder of its own
(``.test-run/emhub-<pid>-pages/``), so the other tests' server keeps the stock pages.
Also the OTF moments' helpers of tests/test_emhub_pages.py: a session and its page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from emworker_session_otf.record import CREATED
from emworker_testkit.emhub_server import EMhubServer
from emworker_testkit.emhub_worker import WorkerProcess, wait_for

from tests.harness import browser

PAGES_EXTRA = Path(__file__).resolve().parent / "pages_extra"
WORKER = "pages.test"  # the worker whose frames, transfers and OTF runs the pages show


class PagesServer(EMhubServer):
    """EMhub + Redis with our stand-in extras and the ``config:sessions`` keys they read."""

    def __init__(self, run_dir: Path, venv: Path | None = None,
                 extra_workers: Sequence[str] = ()) -> None:
        super().__init__(run_dir, venv, extra_workers)
        self.otf_root = run_dir / "otf"
        self.worker = extra_workers[0] if extra_workers else "frames.test"

    def instance_data(self) -> str:
        data: dict[str, Any] = json.loads(super().instance_data())
        [sessions] = [f for f in data["forms"] if f["name"] == "config:sessions"]
        config = sessions["definition"]
        # What create_session_form (pages_extra/data_content.py) reads: the transfer host
        # of each microscope (whose frames listing gives the "Session Folder" choices) and
        # the OTF hosts and workflows.
        config["raw"]["hosts_default"] = {"Krios01": self.worker}
        config["otf"] = {"root": str(self.otf_root), "hosts": [self.worker],
                         "hosts_default": {"Krios01": self.worker},
                         "workflows": ["test"], "workflow_default": "test"}
        # The sessions list titles each session's booking as config:bookings says.
        data["forms"].append({"name": "config:bookings", "definition": {"display": {
            "show_application": False, "show_pi": True, "show_operator": True}}})
        return json.dumps(data)

    def create_instance(self) -> None:
        self.otf_root.mkdir(parents=True, exist_ok=True)
        super().create_instance()
        extra = self.instance / "extra"
        shutil.rmtree(extra, ignore_errors=True)
        shutil.copytree(PAGES_EXTRA, extra, ignore=shutil.ignore_patterns("__pycache__"))


class OtfSession:
    """One session's raw folder, extra.otf and page, for the OTF moments."""

    def __init__(self, server: PagesServer, admin: Any, sid: int, workflow: str) -> None:
        self.server, self.admin, self.sid = server, admin, sid
        self.raw = server.raw_root / f"otf-{sid}"
        self.data = self.raw / "Images-Disc1" / "GridSquare_1" / "Data"
        admin.call("update_session", {"attrs": {"id": sid, "extra": {
            "raw": {"path": str(self.raw) + "/"},
            "otf": {"workflow": workflow, "host": WORKER, "path": ""}}}}, "session")

    def add_movies(self, count: int) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        for n in range(count):
            (self.data / f"FoilHole_{self.sid}{n}_Data_1_fractions.tiff").write_bytes(b"m" * 512)

    def session(self) -> dict[str, Any]:
        return self.admin.get_session(self.sid)

    def status(self) -> str:
        return str(self.session()["extra"].get("otf", {}).get("status", ""))

    def task(self, **args: Any) -> str:
        return str(self.admin.create_task(WORKER, "session",
                                          {"action": "otf", "session_id": self.sid, **args}))

    def wait_status(self, status: str, w: WorkerProcess) -> None:
        wait_for(lambda: self.status() == status, f"extra.otf.status {status}", log=w.log)


def session_page(pages: browser.Pages, sid: int, shot: str, status: str,
                 page: Any = None) -> None:
    """The session page renders with no error; past 'created' it is the live view and
    shows ``status`` with 0 movies (the status view), else the details. With ``page``, it
    is loaded into that open page as EMhub's links do."""
    live = status not in ("", CREATED)
    ready = "#counter_imported" if live else "#files-pie"
    if page is not None:
        pages.reload_content(page, "session_default", shot, ready, session_id=sid)
        check_session_page(page, status)
        return
    page = pages.open("session_default", shot, ready, session_id=sid)
    check_session_page(page, status)
    page.close()


def check_session_page(page: Any, status: str) -> None:
    live = status not in ("", CREATED)
    if live:
        shown = page.locator("#main-content h3.font-bold span").first.inner_text()
        assert shown.strip() == status
        assert page.locator("#counter_imported").inner_text().strip() in ("0", "")
    else:
        assert "Session Details" in page.inner_text("#main-content")
