"""What a session's ``data_path`` may be, so that EMhub's session page renders.

Read in EMhub 1.0.2 and checked in a browser (tests/test_emhub_pages.py): the session page
is the details view while ``extra.otf.status`` is empty or ``created``, and the live view
for any other status. The live view opens ``data_path`` (``get_processing_project``) and
renders only for a folder holding ``project.sqlite`` (a Scipion project). Empty, it fails
(``gs_info`` is undefined: HTTP 500); a folder that does not exist fails ("can't load
session data path"); any other folder, a RELION project included, fails
(``'RelionSessionData' object has no attribute 'get_ctfs_runid'``). And EMhub's
``update_session`` (so ``update_session_extra`` too) copies a non-empty
``extra.otf.path`` into ``data_path``.

So, from the first status past ``created`` on, ``data_path`` is the OTF folder for a
workflow that declares ``project = "scipion"`` once the folder holds ``project.sqlite``,
and otherwise the *status view*: ``<otf root>/.emworker-status-view``, an empty Scipion
project the plugin makes once, which the live view shows as the status with 0 movies.
"""

from __future__ import annotations

import os
from pathlib import Path

from emhub_worker_core.guard import open_dir, open_regular

#: Project kinds EMhub 1.0.2 renders, and the file that makes a folder one.
RENDERED_PROJECTS = {"scipion": "project.sqlite"}
STATUS_VIEW = ".emworker-status-view"
BELOW_LIVE_VIEW = ("", "created")  # statuses EMhub shows with the details view


def check_project_kind(workflow: str, kind: object) -> str:
    """The workflow's ``project`` value, or ValueError naming what EMhub can show."""
    if kind in (None, ""):
        return ""
    if kind not in RENDERED_PROJECTS:
        why = " (EMhub 1.0.2's session page fails on a RELION folder)" \
            if str(kind).lower() == "relion" else ""
        raise ValueError(f"workflow {workflow!r}: project {kind!r} is not one EMhub's session "
                         f"page can show{why}; known: {', '.join(RENDERED_PROJECTS)}, or leave "
                         "it out")
    return str(kind)


def renders(kind: str, folder: Path) -> bool:
    """True once ``folder`` is a project of ``kind`` that EMhub's session page can show."""
    marker = RENDERED_PROJECTS.get(kind)
    return marker is not None and not folder.is_symlink() and folder.is_dir() \
        and (folder / marker).is_file()


def status_view(otf_root: Path) -> Path:
    """The empty Scipion project under ``otf_root`` (made if missing, links never followed:
    jobs may write under the root)."""
    os.makedirs(otf_root, exist_ok=True)  # as the first OTF folder would make it
    view = open_dir([STATUS_VIEW], root=otf_root, create=True)
    try:
        os.close(open_regular(view, RENDERED_PROJECTS["scipion"], os.O_WRONLY | os.O_CREAT))
    finally:
        os.close(view)
    return otf_root / STATUS_VIEW
