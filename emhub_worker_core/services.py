"""What a handler may ask of EMhub, whatever the task source.

The EMhub source implements :class:`EMhubServices` with real API calls (retried within
bounds); the local source serves configs and sessions from the tasks file. A source that
cannot provide a call raises :class:`~emhub_worker_core.errors.ServiceUnavailable`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Protocol

from .errors import ServiceUnavailable

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
