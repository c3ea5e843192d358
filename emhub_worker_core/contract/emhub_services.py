"""What a handler may ask of EMhub, whatever the task source.

The EMhub source implements :class:`EMhubServices` with real API calls (retried within
bounds); the local source serves configs and sessions from the tasks file. A source that
cannot provide a call raises :class:`~emhub_worker_core.contract.errors.ServiceUnavailable`.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Callable, Dict, List, Mapping, Protocol, Sequence

from .errors import ServerError, ServiceUnavailable

JSON = Dict[str, Any]


class EMhubServices(Protocol):
    """EMhub calls available to handlers (``handler.emhub``)."""

    def request_config(self, name: str) -> JSON:
        """The definition of EMhub form ``config:<name>`` (``{}`` when it does not exist)."""
        ...

    def get_session(self, session_id: int) -> JSON:
        """The session record (with ``extra``); raises if it does not exist."""
        ...

    def get_session_users(self, session_id: int) -> JSON:
        """``{"owner": {...}, "operator": {...}, "creator": {...}, "group": ...}``."""
        ...

    def get_resources(self) -> List[JSON]:
        """All resources (microscopes) as ``[{"id", "name", ...}]``."""
        ...

    def update_session_extra(self, session_id: int, extra: Mapping[str, Any]) -> JSON:
        """Merge ``extra``'s top-level keys into the session's ``extra``; returns the session."""
        ...

    def set_session_data_path(self, session_id: int, data_path: str) -> JSON:
        """Set the session's ``data_path`` (where EMhub's live view finds the processing)."""
        ...


class NoServices:
    """Services for a source with no EMhub behind it: every call says so clearly."""

    def _unavailable(self, what: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"{what} needs EMhub, and this task source has none")

    def request_config(self, name: str) -> JSON:
        raise self._unavailable(f"config {name!r}")

    def get_session(self, session_id: int) -> JSON:
        raise self._unavailable(f"session {session_id}")

    def get_session_users(self, session_id: int) -> JSON:
        raise self._unavailable(f"users of session {session_id}")

    def get_resources(self) -> List[JSON]:
        raise self._unavailable("the resources list")

    def update_session_extra(self, session_id: int, extra: Mapping[str, Any]) -> JSON:
        raise self._unavailable(f"updating session {session_id}")

    def set_session_data_path(self, session_id: int, data_path: str) -> JSON:
        raise self._unavailable(f"setting the data path of session {session_id}")


class InMemoryServices:
    """EMhub services served from memory: the local task source and the test kit use it.

    Values are deep-copied in and out, like JSON over HTTP; every call is recorded in
    :attr:`calls`. ``update_session_extra`` refuses a ``None`` anywhere in its data
    (EMhub's pages cannot show it) and reports each update to ``on_update``.
    """

    def __init__(self, configs: Mapping[str, Any] | None = None,
                 sessions: Sequence[Mapping[str, Any]] = (),
                 users: Mapping[int, Any] | None = None,
                 resources: Sequence[Mapping[str, Any]] = (),
                 on_update: Callable[[int, JSON], None] | None = None) -> None:
        self.configs = copy.deepcopy(dict(configs or {}))
        self.sessions = {int(s["id"]): copy.deepcopy(dict(s)) for s in sessions}
        self.users = copy.deepcopy(dict(users or {}))
        self.resources = [dict(r) for r in resources]
        self.calls: list[tuple[str, Any]] = []
        self.on_update = on_update
        self._lock = threading.Lock()

    def request_config(self, name: str) -> dict[str, Any]:
        self.calls.append(("get_config", name))
        return copy.deepcopy(self.configs.get(name, {}))

    def get_session(self, session_id: int) -> dict[str, Any]:
        self.calls.append(("get_session", session_id))
        if int(session_id) not in self.sessions:
            raise ServerError(f"no session {session_id}")
        return copy.deepcopy(self.sessions[int(session_id)])

    def get_session_users(self, session_id: int) -> dict[str, Any]:
        self.calls.append(("get_session_users", session_id))
        return copy.deepcopy(self.users.get(int(session_id), {}))

    def get_resources(self) -> list[dict[str, Any]]:
        self.calls.append(("get_resources", None))
        return copy.deepcopy(self.resources)

    def update_session_extra(self, session_id: int, extra: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("update_session_extra", (session_id, copy.deepcopy(dict(extra)))))
        if _has_none(extra):
            raise ServerError("update_session_extra: None values are not accepted")
        with self._lock:
            session = self.sessions.setdefault(int(session_id), {"id": int(session_id)})
            session.setdefault("extra", {}).update(copy.deepcopy(dict(extra)))
            otf = extra.get("otf")
            if isinstance(otf, Mapping) and otf.get("path"):
                # as EMhub 1.0.2's update_session does: extra.otf.path becomes data_path
                session["data_path"] = str(otf["path"])
            result = copy.deepcopy(session)
        if self.on_update is not None:
            self.on_update(int(session_id), copy.deepcopy(dict(extra)))
        return result

    def set_session_data_path(self, session_id: int, data_path: str) -> dict[str, Any]:
        self.calls.append(("set_session_data_path", (session_id, data_path)))
        with self._lock:
            session = self.sessions.setdefault(int(session_id), {"id": int(session_id)})
            session["data_path"] = str(data_path)
            return copy.deepcopy(session)


def _has_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Mapping):
        return any(_has_none(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_none(v) for v in value)
    return False
