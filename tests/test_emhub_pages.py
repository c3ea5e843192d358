"""EMhub's pages, rendered in headless Chromium, at each moment of a worker's life.

Our UI is EMhub's pages: the Worker Frames page, the sessions list, the session page and
the Create Session dialog show what frames-monitor, session-transfer and session-otf send.
The data comes from the real plugins in a real ``emworker run`` against the real EMhub
1.0.2, with our stand-in for a facility's extras (tests/harness/emhub_pages.py: data for
EMhub's Worker Frames template, our Create Session dialog); what each page shows is checked
against the disk, and a page fails on an EMhub error dialog, a script error, a
console error or a CDN script without a local copy (tests/harness/browser.py). The
screenshots of a run are in ``.test-run/pages-<time>/`` for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from emworker_session_otf.executors.base import FAILED, FINISHED, QUEUED, RUNNING, STOPPED
from emworker_session_otf.project import BELOW_LIVE_VIEW, STATUS_VIEW, renders, status_view
from emworker_session_otf.record import CREATED, SUBMITTING
from emworker_session_transfer.testkit import make_session
from emworker_testkit.emhub_server import HarnessUnavailable, unavailable
from emworker_testkit.emhub_worker import WorkerProcess, wait_for

from tests.harness import browser
from tests.harness.browser import cells, row_value
from tests.harness.emhub_pages import WORKER, OtfSession, PagesServer, session_page

pytestmark = pytest.mark.emhub
REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "plugins" / "session-otf" / "tests" / "otf_workflow.py"
KEEP_SHOTS = 3
#: Every extra.otf status session-otf writes, and those branch otf-trust adds.
OTF_STATUSES = ("", CREATED, SUBMITTING, QUEUED, RUNNING, FINISHED, FAILED, STOPPED,
                "stopping", "unknown")


@pytest.fixture(scope="module")
def server() -> Iterator[PagesServer]:
    emhub = PagesServer.create(extra_workers=(WORKER,), tag="pages")
    try:
        emhub.start()
    except (HarnessUnavailable, OSError) as exc:
        emhub.stop()
        unavailable(str(exc))
    try:
        yield emhub
    finally:
        emhub.stop()


@pytest.fixture(scope="module")
def pages(server: PagesServer) -> Iterator[browser.Pages]:
    runs = sorted((REPO / ".test-run").glob("pages-*"), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEEP_SHOTS]:  # screenshots of the newest runs only
        shutil.rmtree(old, ignore_errors=True)
    shots = REPO / ".test-run" / f"pages-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    try:
        with browser.browser_pages(server.url, server.user, server.password, shots) as p:
            yield p
    except browser.BrowserUnavailable as exc:
        browser.unavailable(str(exc))


@pytest.fixture(scope="module")
def worker_config(server: PagesServer) -> Path:
    tmp = server.run_dir / "worker"  # kept with EMhub's logs of the run
    tmp.mkdir()
    argv = [sys.executable, str(WORKFLOW), "{movies_list}", "{otf_path}"]
    return server.worker_config(tmp / "worker.toml", WORKER, f"""
[plugins.frames-monitor]
min_period = 0
period = 0.5

[plugins.session-transfer]
quiet_seconds = 1
period = 0.5

[plugins.session-otf]
state_dir = "{tmp / 'otf-state'}"
min_movies = 2
quiet_seconds = 1
period = 0.5

[plugins.session-otf.workflows.test]
executor = "local"
argv = {argv!r}

[plugins.session-otf.workflows.fail]
executor = "local"
argv = {[*argv, "7"]!r}
""".replace("'", '"'))


def worker(config: Path) -> WorkerProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    return WorkerProcess(config, env, config.parent / "worker.log")


def frames_listing(root: Path) -> dict[str, int]:
    """What the Worker Frames page should list: each folder and its movies, from the disk."""
    return {d.name: sum(1 for f in d.rglob("*_fractions.tiff")) for d in root.iterdir()
            if d.is_dir()}


def sent_listing(admin: Any, task: str) -> dict[str, int]:
    last = admin.task_history(task)[-1]
    entries = json.loads(last.get("entries", "[]"))
    return {e["name"]: e["movies"] for e in entries if e["type"] == "dir"}


def frames_rows(pages: browser.Pages, shot: str) -> dict[str, int] | None:
    """The page's listing of our worker's frames (None: no card for it)."""
    page = pages.open("workers_frames", shot, "#workers_frames_content")
    titles = page.locator("#workers_frames_content .card-header h3.col-7").all_inner_texts()
    if f"Frames: {WORKER}" not in [t.strip() for t in titles]:
        page.close()
        return None
    used = page.locator("#workers_frames_content .card-header h3.col-4").first.inner_text()
    assert used.startswith("Used: ") and " of " in used and "%" in used, used
    rows = {r[1]: int(r[2] or 0) for r in cells(page, "#workers_frames_content table")}
    page.close()
    return rows


def test_worker_frames_page_follows_the_frames_root(server: PagesServer, pages: browser.Pages,
                                                    worker_config: Path) -> None:
    root = server.frames_root
    admin = server.admin()
    with worker(worker_config) as w:
        task = admin.create_task(WORKER, "frames", {})
        wait_for(lambda: admin.task_history(task), "first frames event", log=w.log)
        assert frames_rows(pages, "frames-empty-root") == {} == frames_listing(root)

        make_session(root / "S00301_grid1", movies=2, movie_size=4096, holes=2)
        make_session(root / "S00302_grid1", movies=1, movie_size=4096, holes=1)
        assert frames_listing(root) == {"S00301_grid1": 4, "S00302_grid1": 1}
        wait_for(lambda: sent_listing(admin, task) == frames_listing(root),
                 "an event listing the tree", log=w.log)
        assert frames_rows(pages, "frames-tree") == frames_listing(root)
    # Worker stopped: the task stays pending and its last event (interrupted) repeats the
    # listing, so the page still shows what is on disk.
    assert admin.task_history(task)[-1].get("interrupted")
    assert frames_rows(pages, "frames-worker-stopped") == frames_listing(root)

    shutil.rmtree(root)
    with worker(worker_config) as w:  # the pending task resumes and finds no root
        wait_for(lambda: "error" in admin.task_history(task)[-1], "an error event", log=w.log)
        # the page skips a host whose last event is an error: no stale listing is shown
        assert frames_rows(pages, "frames-root-removed") is None
    # and the worker stopped after that: still nothing that is not on disk
    last = admin.task_history(task)[-1]
    assert last.get("interrupted") and frames_rows(pages, "frames-root-removed-stopped") in (
        None, {}), last
    root.mkdir()
    admin.delete_task(WORKER, task)
    admin.close()


def test_sessions_list_session_page_and_create_session_after_a_transfer(
        server: PagesServer, pages: browser.Pages, worker_config: Path) -> None:
    session = server.transfer_session
    frames = server.frames_root / session["name"].split(":", 1)[1]
    make_session(frames, movies=3, movie_size=8192, holes=1)
    new_folder = server.frames_root / "S00304_grid1"  # for the dialog to create a session of
    make_session(new_folder, movies=1, movie_size=4096, holes=1)
    admin = server.admin()
    with worker(worker_config) as w:
        listing = admin.create_task(WORKER, "frames", {})
        task = admin.create_task(WORKER, "session",
                                 {"action": "transfer", "session_id": session["id"]})
        raw = wait_for(lambda: (r := admin.get_session(session["id"])["extra"]["raw"])
                       .get("movies") == 3 and r, "3 movies transferred", log=w.log)
        wait_for(lambda: sent_listing(admin, listing) == frames_listing(server.frames_root),
                 "a frames event after the transfer", log=w.log)
        admin.delete_task(WORKER, task)
    dest = Path(raw["path"])
    on_disk = [p for p in dest.rglob("*") if p.is_file() and ".emworker" not in str(p)]
    movies = [p for p in on_disk if p.name.endswith("_fractions.tiff")]
    assert len(movies) == 3 and not list(frames.rglob("*_fractions.tiff"))

    page = pages.open("sessions_list", "sessions-list-after-transfer", "#sessions-table")
    # the CDN scripts ran (from the local copies): DataTables made its pager, and the rest
    # defined what EMhub's pages call
    assert page.locator("#sessions-table_info").inner_text().startswith("Showing 1 to 3")
    assert page.evaluate("""() => [typeof $.fn.DataTable, typeof $.fn.daterangepicker,
        typeof Highcharts.stockChart, typeof moment, typeof Plotly, typeof NGL,
        typeof JSZip, typeof pdfMake]""") == ["function", "function", "function", "function",
                                              "object", "object", "function", "object"]
    rows = {r[1]: r for r in cells(page, "#sessions-table")}
    header = [h.strip() for h in page.locator("#sessions-table thead th").all_inner_texts()]
    row = dict(zip(header, rows[str(session["id"])]))
    assert row["name"] == session["name"].split(":", 1)[1] and row["images"] == "3"
    assert row["size"] != "0 bytes"
    page.close()

    page = pages.open("session_default", "session-after-transfer", "#files-pie",
                      session_id=session["id"])
    assert row_value(page, "Raw path") == raw["path"]
    assert row_value(page, "Images") == str(len(movies))
    assert row_value(page, "Files") == str(raw["files_total"]) == str(len(on_disk))
    assert page.locator("#files-pie .highcharts-container").count() == 1  # Highcharts ran
    page.close()

    # The Create Session dialog (from the sessions list, as EMhub's copy button opens it)
    # offers the folders of the transfer host's frames listing as the Session Folder.
    page = pages.open("sessions_list", "sessions-list", "#sessions-table")
    page.evaluate("createSession(1, 0, 'create_session_form')")
    page.wait_for_selector("#session-modal.show .modal-title", state="attached")
    page.wait_for_load_state("networkidle")
    # the screenshot after Bootstrap's fade-in, not halfway through it
    page.wait_for_function("getComputedStyle(document.getElementById('session-modal'))"
                           ".opacity === '1'")
    pages.check(page, "create-session-dialog")
    options = page.eval_on_selector_all("#session-folder-select option",
                                        "os => os.map(o => o.value).filter(v => v)")
    assert sorted(options) == sorted(frames_listing(server.frames_root))
    assert page.locator("#otf_host-select").input_value() == WORKER
    # Create makes the session and one "session" task per [worker, args] it sends
    before = {t["id"] for t in admin.all_tasks(WORKER)}
    page.evaluate(f"$('#session-folder-select').selectpicker('val', '{new_folder.name}')")
    page.click("#session-btn-create")
    page.wait_for_url("**session_id=*")
    created = admin.get_session(int(page.url.rsplit("session_id=", 1)[1]))
    page.close()
    prefix = session["name"].split(":", 1)[0]  # the booking's date and microscope
    assert created["name"] == f"{prefix}:{new_folder.name}"
    assert created["extra"]["otf"] == {"workflow": "test", "host": WORKER}
    tasks = [t for t in admin.all_tasks(WORKER) if t["id"] not in before]
    assert sorted((t["name"], t["args"]["action"], t["args"]["session_id"]) for t in tasks) == [
        ("session", "otf", created["id"]), ("session", "transfer", created["id"])]
    for task in tasks:
        admin.delete_task(WORKER, task["id"])
    admin.call("delete_session", {"attrs": {"id": created["id"]}}, "session")
    shutil.rmtree(new_folder)
    admin.delete_task(WORKER, listing)
    admin.close()


def test_session_page_while_otf_waits_runs_stops_and_fails(
        server: PagesServer, pages: browser.Pages, worker_config: Path) -> None:
    admin = server.admin()
    view = server.otf_root / STATUS_VIEW  # what session-otf points data_path at (project.py)
    running = OtfSession(server, admin, 302, "test")
    failing = OtfSession(server, admin, 303, "fail")
    with worker(worker_config) as w:
        task = running.task()
        wait_for(lambda: any(e.get("otf_status") == "waiting"
                             for e in admin.task_history(task)), "a waiting event", log=w.log)
        session_page(pages, running.sid, "otf-waiting", running.status())

        waiting = failing.task()  # stopped while it still waits: never a data_path
        wait_for(lambda: admin.task_history(waiting), "a waiting event", log=w.log)
        failing.task(stop=1)
        failing.wait_status(STOPPED, w)
        session_page(pages, failing.sid, "otf-stopped-while-waiting", STOPPED)
        assert failing.session()["data_path"] == str(view)  # its OTF folder never existed

        running.add_movies(2)
        running.wait_status(RUNNING, w)
        otf = running.session()["extra"]["otf"]
        assert Path(otf["folder"]).is_dir() and running.session()["data_path"] == str(view)
        session_page(pages, running.sid, "otf-running", RUNNING)
        page = pages.open("sessions_list", "sessions-list-otf-running", "#sessions-table")
        otf_column = {r[1]: r[6] for r in cells(page, "#sessions-table")}  # "status: name"
        assert otf_column["302"] == otf_column["303"].replace(STOPPED, RUNNING) == \
            f"{RUNNING}: {STATUS_VIEW}"
        page.close()

        running.task(stop=1)
        running.wait_status(STOPPED, w)
        session_page(pages, running.sid, "otf-stopped", STOPPED)

        failing.task(clear=1)  # cleared: a new record, waiting again
        wait_for(lambda: failing.status() == "", "extra.otf without a status", log=w.log)
        session_page(pages, failing.sid, "otf-cleared", "")
        failing.add_movies(2)
        failing.wait_status(FAILED, w)
        otf = failing.session()["extra"]["otf"]
        assert otf["exit_code"] == 7 and "failing on purpose" in otf["log_tail"]
        session_page(pages, failing.sid, "otf-failed", FAILED)
    assert running.session()["data_path"] == failing.session()["data_path"] == str(view)
    for task in admin.all_tasks(WORKER):
        admin.delete_task(WORKER, task["id"])
    admin.close()


def test_session_page_renders_every_otf_status(server: PagesServer,
                                               pages: browser.Pages) -> None:
    """extra.otf and data_path as session-otf writes them, for each status (no project)."""
    page = pages.open("sessions_list", "sessions-list-for-statuses", "#sessions-table")
    with server.admin() as admin:
        for status in OTF_STATUSES:
            data_path = "" if status in BELOW_LIVE_VIEW else str(status_view(server.otf_root))
            admin.call("update_session", {"attrs": {"id": 302, "data_path": data_path, "extra": {
                "raw": {}, "otf": {"workflow": "test", "host": WORKER, "path": data_path,
                                   "folder": str(server.otf_root / "otf-302_OTF"),
                                   **({"status": status} if status else {})}}}}, "session")
            assert admin.get_session(302)["data_path"] == data_path
            session_page(pages, 302, f"otf-status-{status or 'none'}", status, page)
    page.close()


def test_emhub_renders_a_scipion_data_path_and_fails_on_any_other_folder(
        server: PagesServer, pages: browser.Pages, tmp_path: Path) -> None:
    """Why session-otf sets data_path only for a Scipion project (project.py), on the real
    EMhub: a RELION-style folder breaks the page, a folder with project.sqlite renders."""
    relion = server.otf_root / "relion_OTF"
    (relion / "Import" / "job001").mkdir(parents=True, exist_ok=True)
    (relion / "Import" / "job001" / "movies.star").write_text("data_movies\n")
    scipion = server.otf_root / "scipion_OTF"
    scipion.mkdir(exist_ok=True)
    (scipion / "project.sqlite").write_bytes(b"")
    assert not renders("scipion", relion) and renders("scipion", scipion)
    with server.admin() as admin:
        for folder in (relion, scipion):
            admin.call("update_session", {"attrs": {"id": 302, "data_path": str(folder),
                                                    "extra": {"raw": {}, "otf": {
                                                        "status": RUNNING}}}}, "session")
            if folder == scipion:
                session_page(pages, 302, "scipion-data-path", RUNNING)
                continue
            with pytest.raises(AssertionError, match="get_ctfs_runid"):
                session_page(pages, 302, "relion-data-path-fails", RUNNING)
        admin.call("update_session", {"attrs": {"id": 302, "data_path": ""}}, "session")
