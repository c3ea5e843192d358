"""EMhub's pages in a real headless Chromium, with every CDN script served from disk.

Chromium is Debian's ``chromium-headless-shell`` (scripts/system-deps.sh), driven by PyPI
``playwright`` (pinned in requirements/test-pins.txt to a release that drives that Chromium)
through ``executable_path``: playwright never downloads a browser here. EMhub's pages load
jQuery plug-ins, DataTables, Highcharts, moment, daterangepicker, ... from CDNs, and a page
whose scripts failed still answers HTTP 200, so each of those URLs is answered from a local
copy of its npm package (``cdn/package.json`` and ``package-lock.json``, installed with
``npm ci`` into ``.test-run/cdn/``). External fonts and images are aborted; any other
external request is aborted *and recorded*, and the tests fail on it.
"""

from __future__ import annotations

import contextlib
import fcntl
import mimetypes
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = Path(__file__).resolve().parent / "cdn"
CDN = REPO / ".test-run" / "cdn"
CHROMIUM = ("chromium-headless-shell", "chromium")

#: Every CDN address EMhub 1.0.2's templates load (main_javascript.html), by prefix, and
#: the file of the npm package (``.test-run/cdn/node_modules/``) that answers it.
CDN_ROUTES: tuple[tuple[str, str], ...] = (
    ("https://cdnjs.cloudflare.com/ajax/libs/highcharts/10.3.2/", "highcharts/"),
    ("https://unpkg.com/ngl@2.0.0-dev.39/", "ngl/"),
    ("https://cdn.datatables.net/1.10.19/", "datatables.net/"),
    ("https://cdn.datatables.net/buttons/1.5.2/", "datatables.net-buttons/"),
    ("https://cdn.datatables.net/rowgroup/1.0.4/", "datatables.net-rowgroup/"),
    ("https://cdn.datatables.net/select/1.2.7/", "datatables.net-select/"),
    ("https://cdn.datatables.net/fixedheader/3.1.5/", "datatables.net-fixedheader/"),
    ("https://cdnjs.cloudflare.com/ajax/libs/jszip/3.1.3/", "jszip/dist/"),
    ("https://cdnjs.cloudflare.com/ajax/libs/pdfmake/0.1.36/", "pdfmake/build/"),
    ("https://cdn.jsdelivr.net/momentjs/latest/", "moment/min/"),
    ("https://cdn.jsdelivr.net/npm/daterangepicker/daterangepicker.min.js",
     "daterangepicker/daterangepicker.js"),
    # 0.8.1 was never published on npm; EMhub's tag pins its cdnjs file by integrity
    # hash, so Chromium refuses this copy (one console error, see SRI_REFUSED). EMhub
    # uses html2pdf only to export reports as PDF.
    ("https://cdnjs.cloudflare.com/ajax/libs/html2pdf.js/0.8.1/", "html2pdf.js/dist/"),
    ("https://cdn.plot.ly/plotly-2.32.0.min.js", "plotly.js-dist-min/plotly.min.js"),
)
SRI_REFUSED = re.compile(r"html2pdf\.bundle\.min\.js.*integrity|integrity.*html2pdf", re.S)


class BrowserUnavailable(RuntimeError):
    """No Chromium, no playwright or no npm here."""


def unavailable(reason: str) -> None:
    """Skip loudly; under CI (``CI=true``) a missing browser is a failure, not a skip."""
    message = f"HEADLESS CHROMIUM UNAVAILABLE, EMhub's pages not checked: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def chromium_path() -> str:
    for name in CHROMIUM:
        if path := shutil.which(name):
            return path
    raise BrowserUnavailable("no chromium-headless-shell on PATH (scripts/system-deps.sh "
                             "installs Debian's package)")


def install_cdn_copies() -> Path:
    """``npm ci`` of cdn/package-lock.json into .test-run/cdn, once per lock file."""
    modules = CDN / "node_modules"
    lock = (PACKAGES / "package-lock.json").read_bytes()
    stamp = CDN / "installed-lock.json"
    CDN.mkdir(parents=True, exist_ok=True)
    with open(CDN / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # parallel suites share the folder
        if stamp.exists() and stamp.read_bytes() == lock and modules.is_dir():
            return modules
        npm = shutil.which("npm")
        if npm is None:
            raise BrowserUnavailable("no npm (scripts/system-deps.sh installs Debian's)")
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PACKAGES / name, CDN / name)
        result = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                                 "--loglevel=error"], cwd=CDN, capture_output=True,
                                text=True, timeout=600)
        if result.returncode != 0:
            raise BrowserUnavailable(f"npm ci failed: {(result.stderr or result.stdout)[-800:]}")
        stamp.write_bytes(lock)
    return modules


def local_copy(url: str, modules: Path) -> Path | None:
    for prefix, target in CDN_ROUTES:
        if url == prefix or (prefix.endswith("/") and url.startswith(prefix)):
            rest = url[len(prefix):].split("?")[0] if prefix.endswith("/") else ""
            path = (modules / (target + rest)).resolve()
            if path.is_relative_to(modules.resolve()) and path.is_file():
                return path
    return None


@dataclass
class PageLog:
    """What one page did besides rendering: script errors, console errors, requests."""

    errors: list[str] = field(default_factory=list)      # uncaught exceptions
    console: list[str] = field(default_factory=list)     # console.error messages
    unserved: list[str] = field(default_factory=list)    # external requests we had no copy of
    served: list[str] = field(default_factory=list)      # CDN addresses answered from disk
    failed: list[str] = field(default_factory=list)      # HTTP errors, with their address

    def problems(self) -> list[str]:
        # "Failed to load resource" repeats a failed response without its address;
        # those are in `failed`, which says which.
        console = [c for c in self.console if not SRI_REFUSED.search(c)
                   and not c.startswith("Failed to load resource")]
        return [*(f"script error: {e}" for e in self.errors),
                *(f"console error: {c}" for c in console),
                *(f"HTTP error: {f}" for f in self.failed),
                *(f"no local copy of {u}" for u in self.unserved)]


class Pages:
    """A logged-in browser context on one EMhub; ``open`` renders a page and checks it."""

    def __init__(self, context: Any, url: str, shots: Path, modules: Path) -> None:
        self.context, self.url, self.shots, self.modules = context, url.rstrip("/"), shots, modules
        self.count = 0
        self.bodies: dict[Path, bytes] = {}
        context.route("**/*", self._route)
        self.log = PageLog()

    def _route(self, route: Any) -> None:
        request = route.request
        url: str = request.url
        if url.startswith(self.url + "/") or url == self.url:
            route.continue_()
            return
        if request.resource_type in ("font", "image"):
            route.abort()
            return
        path = local_copy(url, self.modules)
        if path is None:
            self.log.unserved.append(url)
            route.abort()
            return
        self.log.served.append(url)
        if path not in self.bodies:  # each page loads some 8 MB of these
            self.bodies[path] = path.read_bytes()
        kind = mimetypes.guess_type(path.name)[0] or "application/javascript"
        route.fulfill(body=self.bodies[path], content_type=kind,
                      headers={"access-control-allow-origin": "*"})

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "image":
            # (EMhub's own CSS names a missing down-arrow.png: not ours to check)
            self.log.failed.append(f"{response.status} {response.request.resource_type} "
                                   f"{response.url}")

    def login(self, user: str, password: str) -> None:
        reply = self.context.request.post(f"{self.url}/api/login",
                                          data={"username": user, "password": password})
        assert reply.ok and reply.json() == "OK", reply.text()

    def open(self, content_id: str, shot: str, ready: str, **params: Any) -> Any:
        """Load ``/main?content_id=...`` and wait for ``ready`` (a CSS selector) to show.

        Returns the page. Fails on an EMhub error dialog, a script error, a console
        error or an external request without a local copy."""
        page = self.context.new_page()
        self.log = PageLog()
        page.on("pageerror", lambda exc: self.log.errors.append(str(exc)))
        page.on("console", lambda msg: self.log.console.append(msg.text)
                if msg.type == "error" else None)
        page.on("response", self._response)
        query = "&".join(f"{k}={v}" for k, v in {"content_id": content_id, **params}.items())
        reply = page.goto(f"{self.url}/main?{query}", wait_until="load")
        assert reply is not None and reply.status == 200, reply
        self._ready(page, shot, ready)
        return page

    def reload_content(self, page: Any, content_id: str, shot: str, ready: str,
                       **params: Any) -> None:
        """Load other content into an open page as EMhub's own links do
        (``load_main_content``): its scripts are not loaded again. Checked like :meth:`open`."""
        self.log.console.clear()
        page.evaluate("$('#main-content').empty()")
        page.evaluate("([id, params]) => load_main_content(id, params)", [content_id, params])
        self._ready(page, shot, ready)

    def _ready(self, page: Any, shot: str, ready: str) -> None:
        """Wait for ``ready`` (or EMhub's error dialog) in the content, then :meth:`check`."""
        try:
            page.wait_for_selector(f"#main-content {ready}, #main-content #error-modal-title",
                                   state="attached", timeout=15_000)
            page.wait_for_load_state("networkidle")
        except Exception as exc:  # playwright's TimeoutError: say what the page did
            self.check(page, shot)
            raise AssertionError(f"{shot}: no {ready!r} in the page ({exc})") from None
        self.check(page, shot)

    def check(self, page: Any, shot: str) -> None:
        """Screenshot, then fail on an EMhub error or anything in the page log."""
        self.count += 1
        page.screenshot(path=str(self.shots / f"{self.count:02d}-{shot}.png"), full_page=True)
        error = page.locator("#error-modal-title")
        if error.count():
            raise AssertionError(f"{shot}: EMhub shows an error: "
                                 + page.locator(".modal-body h3").first.inner_text())
        assert not self.log.problems(), f"{shot}: {self.log.problems()}"


@contextlib.contextmanager
def browser_pages(url: str, user: str, password: str, shots: Path) -> Iterator[Pages]:
    """A headless Chromium logged into EMhub at ``url``; screenshots go to ``shots``."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserUnavailable(f"playwright is not installed ({exc})") from exc
    executable = chromium_path()
    modules = install_cdn_copies()
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--no-sandbox"])  # root in CI
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            pages = Pages(context, url, shots, modules)
            pages.login(user, password)
            yield pages
        finally:
            browser.close()


def cells(page: Any, table: str) -> list[list[str]]:
    """The text of each body row of ``table`` (a CSS selector), cell by cell."""
    rows: list[list[str]] = page.eval_on_selector_all(
        f"{table} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))")
    return rows


def row_value(page: Any, label: str) -> str:
    """The second cell of the table row whose first cell says ``label``."""
    value: str = page.evaluate("""label => {
        for (const r of document.querySelectorAll('#main-content tr'))
            if (r.cells.length > 1 && r.cells[0].innerText.trim() === label)
                return r.cells[1].innerText.trim();
        return null; }""", label)
    assert value is not None, f"no row {label!r}"
    return value
