"""Which OTF folders EMhub's session page can show, and so may become ``data_path``.

EMhub 1.0.2 opens a session's ``data_path`` on every session page past ``created``
(``get_processing_project``): a folder that does not exist fails the page ("can't load
session data path"); a folder with ``project.sqlite`` is read as a Scipion project; *any
other folder* is read as a RELION project, whose class lacks ``get_ctfs_runid``, and the
page fails too. So ``data_path`` is set only for a workflow that declares ``project =
"scipion"``, and only once the folder holds ``project.sqlite``. An empty ``data_path``
renders the live view with 0 movies and the status, which is what every other workflow
gets.
"""

from __future__ import annotations

from pathlib import Path

#: Project kinds EMhub 1.0.2 renders, and the file that makes a folder one.
RENDERED_PROJECTS = {"scipion": "project.sqlite"}


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
