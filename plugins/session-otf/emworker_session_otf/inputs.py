"""What one OTF task works on: the session, EMhub's ``otf`` config and the plugin config.

Precedence, lowest first: EMhub's ``config:sessions`` (``otf.root``, ``otf.workflows``,
``raw.root``), then ``[plugins.session-otf]``. The session gives the raw folder
(``extra.raw.path``) and the choice of workflow (``extra.otf.workflow``); every path is
confined to its root.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from emhub_worker_core import EMhubServices
from emhub_worker_core.guard import PathRefused, confine, safe_name

from .settings import OtfSettings
from .workflow import Workflow, WorkflowError, merge_definitions, untrusted_program_keys


@dataclass(frozen=True)
class OtfTarget:
    session_id: int
    session_name: str
    microscope: str
    raw_path: Path
    otf_root: Path
    raw_root: Path
    otf_path: Path
    workflow: Workflow
    host: str
    acquisition: Mapping[str, Any] = field(default_factory=dict)
    gain_pattern: str = ""
    otf_extra: Mapping[str, Any] = field(default_factory=dict)  # the session's extra.otf
    derived_path: Path | None = None  # <otf root>/<raw folder name>_OTF


def _microscope(session: Mapping[str, Any], emhub: EMhubServices) -> str:
    resource = session.get("resource")
    if isinstance(resource, Mapping) and resource.get("name"):
        return str(resource["name"])
    resource_id = session.get("resource_id")
    if resource_id is None:
        return ""
    for item in emhub.get_resources():
        if item.get("id") == resource_id:
            return str(item.get("name") or "")
    return ""


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _workflow(name: str, definitions: Mapping[str, Any]) -> Workflow:
    if not name:
        raise WorkflowError("the session names no workflow (extra.otf.workflow) and no "
                            "default_workflow is configured")
    if name not in definitions:
        known = ", ".join(sorted(definitions)) or "none"
        raise WorkflowError(f"workflow {name!r} is not defined (defined: {known})")
    return Workflow.parse(name, definitions[name])


def resolve(args: Mapping[str, Any], settings: OtfSettings,
            emhub: EMhubServices) -> OtfTarget:
    """Everything the task needs, or :class:`PathRefused`/:class:`WorkflowError`."""
    try:
        session_id = int(args["session_id"])
    except (KeyError, TypeError, ValueError):
        raise PathRefused(f"session_id is required, got {args.get('session_id')!r}") from None
    sconfig = emhub.request_config("sessions")
    otf_cfg, raw_cfg = _table(sconfig, "otf"), _table(sconfig, "raw")
    otf_root = settings.otf_root or str(otf_cfg.get("root") or "")
    raw_root = settings.raw_root or str(raw_cfg.get("root") or "")
    if not otf_root or not raw_root:
        raise PathRefused("no OTF/raw roots: set otf_root and raw_root in "
                          "[plugins.session-otf] or otf.root/raw.root in EMhub's sessions config")
    session = emhub.get_session(session_id)
    extra = _table(session, "extra")
    raw_extra = _table(extra, "raw")
    otf_extra = dict(_table(extra, "otf"))
    # only what session-transfer wrote for this session; no task argument overrides it
    raw_text = str(raw_extra.get("path") or "")
    if not raw_text:
        raise PathRefused(f"session {session_id} has no raw folder yet (extra.raw.path)")
    raw_path = confine(raw_text, raw_root, what="raw folder")
    derived = confine(safe_name(raw_path.name, "raw folder name") + "_OTF", otf_root,
                      what="OTF folder")
    # "folder" is where session-otf says the OTF folder is ("path" is data_path: project.py)
    if otf_extra.get("folder") or otf_extra.get("path"):
        otf_path = confine(str(otf_extra.get("folder") or otf_extra["path"]), otf_root,
                           what="OTF folder")
    else:
        otf_path = derived
    site_flows = _table(otf_cfg, "workflows")
    definitions = merge_definitions(site_flows, settings.workflows)
    name = str(args.get("workflow") or otf_extra.get("workflow") or settings.default_workflow)
    untrusted = untrusted_program_keys(name, site_flows, settings.workflows)
    if untrusted and not settings.emhub_defines_programs:
        raise WorkflowError(
            f"workflow {name!r}: {', '.join(untrusted)} come(s) from EMhub's config:sessions, "
            f"which may not choose the program or user run here: define them in "
            f"[plugins.session-otf.workflows.{name}] (or set emhub_defines_programs = true)")
    workflow = _workflow(name, definitions)
    microscope = _microscope(session, emhub)
    acquisition = dict(_table(_table(sconfig, "acquisition"), microscope))
    if isinstance(session.get("acquisition"), Mapping):
        acquisition.update(session["acquisition"])
    gain = settings.gain or str(_table(sconfig, "data").get("gain") or "")
    host = str(otf_extra.get("host") or socket.gethostname())
    return OtfTarget(session_id=session_id, session_name=str(session.get("name") or ""),
                     microscope=microscope, raw_path=raw_path,
                     otf_root=Path(os.path.realpath(otf_root)),
                     raw_root=Path(os.path.realpath(raw_root)), otf_path=otf_path,
                     workflow=workflow, host=host, acquisition=acquisition,
                     gain_pattern=gain, otf_extra=otf_extra, derived_path=derived)
