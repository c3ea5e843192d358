"""What a test does to EMhub as a facility admin would: create tasks, read their history.

Uses only EMhub's public API (and the Task History page the web UI shows, because no JSON
endpoint returns a task's events). Errors are raised, never returned as ``None``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import requests

_HISTORY_ROW = re.compile(r"<td>(\d+-\d+)</td>\s*<td>[^<]*</td>\s*<td>(.*?)</td>", re.S)


def mint_worker_token(worker: str, secret_key: str) -> str:
    """EMhub's worker token: the HS256 JWT of ``{"worker": W}`` signed with SECRET_KEY.

    The harness knows the key it wrote, so it can read task lists without calling
    ``connect_worker`` (which would overwrite the worker's specs)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64(json.dumps({"worker": worker}, separators=(",", ":")).encode())
    signature = hmac.new(secret_key.encode(), f"{header}.{payload}".encode(),
                         hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


class EMhubAdminError(RuntimeError):
    """EMhub answered an admin call with ``{"error": ...}`` or a non-200 status."""


class AdminClient:
    """A logged-in admin session on the test server."""

    def __init__(self, url: str, user: str, password: str, secret_key: str,
                 timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.secret_key = secret_key
        self.timeout = timeout
        self.http = requests.Session()
        reply = self.http.post(f"{self.url}/api/login", timeout=timeout,
                               json={"username": user, "password": password})
        if reply.status_code != 200 or reply.json() != "OK":
            raise EMhubAdminError(f"admin login refused: {reply.status_code} {reply.text[:200]}")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, endpoint: str, body: Any, key: str | None = None) -> Any:
        reply = self.http.post(f"{self.url}/api/{endpoint}", json=body, timeout=self.timeout)
        if reply.status_code != 200:
            raise EMhubAdminError(f"{endpoint}: HTTP {reply.status_code}: {reply.text[:200]}")
        data = reply.json()
        if isinstance(data, dict) and "error" in data:
            raise EMhubAdminError(f"{endpoint}: {data['error']}")
        return data[key] if key is not None else data

    def create_task(self, worker: str, name: str, args: Any) -> str:
        task = self.call("create_task", {"attrs": {"worker": worker,
                                                   "task": {"name": name, "args": args}}},
                         "task")
        return str(task["id"])

    def delete_task(self, worker: str, task_id: str) -> None:
        self.call("delete_task", {"attrs": {"worker": worker, "task_id": task_id}}, "task")

    def task_events(self, task_id: str) -> list[tuple[str, dict[str, str]]]:
        """``(event id, event)`` pairs, oldest first, without the ``created`` entry.

        Event ids are Redis stream ids, ``"<unix ms>-<seq>"``: they order events of
        different tasks in time."""
        reply = self.http.get(f"{self.url}/get_content", timeout=self.timeout,
                              params={"content_id": "task_history", "task_id": task_id})
        if reply.status_code != 200:
            raise EMhubAdminError(f"task history {task_id}: HTTP {reply.status_code}")
        events = [(event_id, json.loads(body))
                  for event_id, body in _HISTORY_ROW.findall(reply.text)]
        events.reverse()  # the page shows the newest first
        return [(i, e) for i, e in events if set(e) != {"created"}]

    def task_history(self, task_id: str) -> list[dict[str, str]]:
        """The task's events, oldest first, without the ``created`` entry."""
        return [event for _id, event in self.task_events(task_id)]

    def all_tasks(self, worker: str) -> list[dict[str, Any]]:
        """Every task of every worker, as get_all_tasks returns them."""
        token = mint_worker_token(worker, self.secret_key)
        tasks: list[dict[str, Any]] = self.call("get_all_tasks", {"attrs": {"token": token}},
                                                "tasks")
        return tasks

    def task_status(self, worker: str, task_id: str) -> str:
        """``"pending"``, ``"done"`` or ``""`` (created, not delivered); KeyError if unknown."""
        for task in self.all_tasks(worker):
            if task["id"] == task_id and task["worker"] == worker:
                return str(task["status"])
        raise KeyError(f"no task {task_id} for {worker}")

    def pending_tasks(self, worker: str) -> list[dict[str, Any]]:
        token = mint_worker_token(worker, self.secret_key)
        tasks: list[dict[str, Any]] = self.call("get_pending_tasks",
                                                {"attrs": {"token": token}}, "tasks")
        return tasks

    def get_session(self, session_id: int) -> dict[str, Any]:
        sessions = self.call("get_sessions", {"condition": f"id={int(session_id)}",
                                              "orderBy": None, "attrs": None})
        if not sessions:
            raise KeyError(f"no session {session_id}")
        return dict(sessions[0])

    def get_config(self, name: str) -> dict[str, Any]:
        config: dict[str, Any] = self.call("get_config", {"attrs": {"config": name}}, "config")
        return config
