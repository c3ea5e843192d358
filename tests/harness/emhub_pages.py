"""A real EMhub 1.0.2 with our stand-in extras, whose pages show what our plugins send.

EMhub's PyPI package has the Worker Frames page's template but not its data, and no Create
Session dialog that works: a facility adds both in its instance's ``extra/`` folder. So does
this server, with ``tests/harness/pages_extra/`` (ours: ``data_content.py`` says what it gives each
page; a facility's own extras may differ), in a run folder of its own
(``.test-run/emhub-<pid>-pages/``), so the other tests' server keeps the stock pages.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from emworker_testkit.emhub_server import EMhubServer

PAGES_EXTRA = Path(__file__).resolve().parent / "pages_extra"


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
