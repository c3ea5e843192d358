"""Our stand-in for a facility's EMhub extras: the data of two pages the PyPI package lacks.

EMhub 1.0.2 ships the page template ``workers_frames.html`` but no content function for it,
and its ``create_session_form`` only raises ("needs to be defined on the extras for each
specific EMhub customization"). A facility registers both from its instance's ``extra/``
folder: EMhub imports ``extra/data_content.py`` and calls ``register_content(dc)``
(``emhub/__init__.py``). ``tests/harness/emhub_pages.py`` puts this file there, so the pages
test sees what our plugins send as such a facility would. A facility's own extras may read
the same events differently; this one does only what the two templates need:

* ``workers_frames`` gives ``workers_frames.html`` (EMhub's) ``folderGroups``: for each
  worker of ``config:hosts`` with a pending task named ``frames``, the ``usage`` and
  ``entries`` of that task's last event, newest entry first, each with ``modified`` (a
  datetime, for the ``pretty_date``/``pretty_elapsed`` filters). A worker whose last event
  is an error, or has no listing yet, gets no card: the page never shows a stale listing.
* ``create_session_form`` gives ``templates/create_session_form.html`` (ours, next to this
  file) the booking, the session name prefix, the folders of the transfer host's listing
  (``config:sessions`` -> ``raw.hosts_default`` for the microscope) as the choices of the
  session folder, and the OTF hosts and workflows of ``config:sessions`` -> ``otf``.

Runs inside EMhub's own virtualenv (it imports nothing of ours).
"""

import json
from typing import Any


def register_content(dc: Any) -> None:
    def frames_listing(dm: Any, worker: str) -> Any:
        """The last listing of ``worker``'s first pending ``frames`` task (None: none to show)."""
        for task in dm.get_worker_stream(worker).get_all_tasks():
            if task["name"] != "frames" or task["status"] != "pending":
                continue
            last = dm.get_task_lastevent(task["id"])
            event = last[1] if last else {}
            if "error" in event or "entries" not in event or "usage" not in event:
                return None
            entries = json.loads(event["entries"])
            for entry in entries:
                entry["modified"] = dm.dt_from_timestamp(entry["ts"])
            entries.sort(key=lambda e: e["ts"], reverse=True)
            return {"usage": json.loads(event["usage"]), "entries": entries}
        return None

    @dc.content
    def workers_frames(**kwargs: Any) -> dict[str, Any]:
        dm = dc.app.dm
        groups = {worker: frames_listing(dm, worker) for worker in dm.get_hosts()}
        return {"folderGroups": {w: g for w, g in groups.items() if g is not None}}

    @dc.content
    def create_session_form(**kwargs: Any) -> dict[str, Any]:
        dm, user = dc.app.dm, dc.app.user
        booking = dm.get_booking_by(id=int(kwargs["booking_id"]))
        if booking is None:
            raise Exception(f"There is no booking {kwargs['booking_id']}.")
        if not (user.is_manager or user.same_pi(booking.owner)):
            raise Exception("Only managers and members of the booking's lab can create "
                            "its sessions.")
        config = dm.get_config("sessions")
        microscope = booking.resource.name
        transfer_host = config.get("raw", {}).get("hosts_default", {}).get(microscope)
        if transfer_host is None:
            raise Exception(f"config:sessions has no raw.hosts_default for {microscope}.")
        otf = config.get("otf", {})
        listing = frames_listing(dm, transfer_host) if transfer_host in dm.get_hosts() else None
        folders = [e for e in (listing or {}).get("entries", []) if e.get("type") == "dir"]
        return {
            "booking": booking,
            # the facility's naming: <YYYYMMDD><microscope>:<frames folder>
            "session_name_prefix": booking.start.strftime("%Y%m%d") + microscope + ":",
            "frame_folders": folders,
            "transfer_host": transfer_host,
            "otf_hosts": otf.get("hosts", []),
            "otf_host_default": otf.get("hosts_default", {}).get(microscope, ""),
            "workflows": otf.get("workflows", []),
            "workflow_default": otf.get("workflow_default", ""),
        }
