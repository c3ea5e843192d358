"""A real EMhub 1.0.2 with the St. Jude extras, whose pages show what our plugins send.

The Worker Frames page and the St. Jude *Create Session* dialog are not in EMhub's PyPI
package: they are EMhub's ``extras/stjude_cryoem`` (``emhub/stjude/``, copied unchanged from
EMhub's git at the commit that made 1.0.2, see its README). A facility running them puts
them in the instance's ``extra/`` folder; so does this server, in a run folder of its own
(``.test-run/emhub-<pid>-pages/``), so the other tests' server keeps the stock pages.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from tests.harness.emhub_server import HERE, EMhubServer

STJUDE = HERE / "stjude"


class PagesServer(EMhubServer):
    """EMhub + Redis with the St. Jude extras and the ``config:sessions`` keys they read."""

    def __init__(self, run_dir: Path, venv: Path | None = None,
                 extra_workers: Sequence[str] = ()) -> None:
        super().__init__(run_dir, venv, extra_workers)
        self.otf_root = run_dir / "otf"
        self.worker = extra_workers[0] if extra_workers else "frames.test"

    def instance_data(self) -> str:
        data: dict[str, Any] = json.loads(super().instance_data())
        [sessions] = [f for f in data["forms"] if f["name"] == "config:sessions"]
        config = sessions["definition"]
        # What create_session_form (data_content.py) reads: the transfer host of each
        # microscope (whose frames listing gives the "Session Folder" choices), the OTF
        # hosts and workflows, and a glob for crYOLO models.
        config["raw"]["hosts_default"] = {"Krios01": self.worker}
        config["otf"] = {"root": str(self.otf_root), "hosts": [self.worker],
                         "hosts_default": {"Krios01": self.worker},
                         "workflows": ["test"], "workflow_default": "test"}
        config["data"]["cryolo_models"] = str(self.run_dir / "cryolo" / "*")
        # The sessions list titles each session's booking as config:bookings says; the
        # dialog's project choice reads who may see and create projects.
        data["forms"].append({"name": "config:bookings", "definition": {"display": {
            "show_application": False, "show_pi": True, "show_operator": True}}})
        [permissions] = [f for f in data["forms"] if f["name"] == "config:permissions"]
        permissions["definition"]["projects"] = {
            "view_options": [{"key": "lab", "label": "Lab"}], "can_create": "all"}
        return json.dumps(data)

    def create_instance(self) -> None:
        self.otf_root.mkdir(parents=True, exist_ok=True)
        super().create_instance()
        extra = self.instance / "extra"
        shutil.rmtree(extra, ignore_errors=True)
        shutil.copytree(STJUDE, extra, ignore=shutil.ignore_patterns("README.md"))
