"""EMhub 1.0.2's REST API as a worker uses it: one HTTP session, typed errors, no retries.

EMhub answers application errors as HTTP 200 with ``{"error": ...}``; every such reply
becomes an exception here, never ``None``. Retrying is the caller's business (see
:mod:`.source`), except one thing done here: a cookie EMhub no longer accepts (HTTP 401)
is replaced by logging in again, once, and the call repeated.

Every call has a timeout: ``settings.timeout``, or ``settings.poll_timeout`` for the long
poll, and none lasts past :attr:`EMhubClient.deadline` once one is set (shutting down: the
grace period). Passwords, cookies and tokens never appear in messages or logs.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any, Mapping

import requests
from requests.adapters import HTTPAdapter

# LoginExpired, PollTimeout, ServerBusy and TokenRejected are this client's own; they
# live in the one tree and stay importable from here.
from ...contract.errors import (
    AuthenticationError,
    EventRejected,
    ProtocolError,
    ServerError,
    TransportError,
)
from ...contract.errors import (
    LoginExpired as LoginExpired,
)
from ...contract.errors import (
    PollTimeout as PollTimeout,
)
from ...contract.errors import (
    ServerBusy as ServerBusy,
)
from ...contract.errors import (
    TokenRejected as TokenRejected,
)
from ...contract.version import __version__
from .neterrors import describe
from .settings import EMhubSettings

log = logging.getLogger("emworker.emhub")

JSON = dict[str, Any]

#: The timeout of a call made after :attr:`EMhubClient.deadline` passed (the interrupted
#: event of a task that did not stop within the grace period): short, but one try.
LATE_CALL_TIMEOUT = 1.0


# EMhub forwards Redis failures as {"error": "ERROR from Server: <str(exc)>"}: these are
# outages to wait out, not answers about the request.
_REDIS_TROUBLE = re.compile(
    r"Error \d+ connecting to|Connection refused|Connection closed|Connection reset|"
    r"Timeout (reading|connecting|writing)|loading the dataset|Broken pipe|"
    r"NOGROUP|'NoneType' object has no attribute '(exists|x[a-z]+|delete)'", re.I)
_SERVER_PREFIX = "ERROR from Server: "


def classify_error(endpoint: str, message: str) -> Exception:
    """The exception for an ``{"error": message}`` reply from ``endpoint``."""
    text = message[len(_SERVER_PREFIX):] if message.startswith(_SERVER_PREFIX) else message
    if endpoint == "login":
        return AuthenticationError(f"EMhub refused the login: {text}")
    if "Unregistered host" in text:
        return AuthenticationError(f"{text}: add this worker name to EMhub's config:hosts "
                                   f"form (and restart EMhub, which caches the list)")
    if "Invalid token" in text:
        return TokenRejected(f"{endpoint}: {text}")
    if _REDIS_TROUBLE.search(text):
        return ServerBusy(f"{endpoint}: EMhub cannot use its Redis: {text}")
    if endpoint == "update_task":
        return EventRejected(f"update_task: EMhub refused the event: {text}")
    return ServerError(f"{endpoint}: {text}")


def make_http_session(settings: EMhubSettings, pool_size: int = 20) -> requests.Session:
    """One session, one connection pool: connections are reused between calls."""
    http = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    http.verify = settings.verify
    http.headers["User-Agent"] = f"emworker/{__version__}"
    return http


class EMhubClient:
    """A worker's calls to one EMhub server. Thread-safe: handlers call it concurrently."""

    def __init__(self, settings: EMhubSettings, worker: str,
                 http: requests.Session | None = None) -> None:
        self.settings = settings
        self.worker = worker
        self.http = http if http is not None else make_http_session(settings)
        self.token: str | None = None
        self._login_lock = threading.Lock()
        self._logins = 0
        #: ``time.monotonic()`` by which every call must have ended (set while stopping);
        #: a call made later gets :data:`LATE_CALL_TIMEOUT` seconds
        self.deadline: float | None = None

    def close(self) -> None:
        self.http.close()

    # -- transport ------------------------------------------------------------------------
    def _timeouts(self, read_timeout: float | None) -> tuple[float, float]:
        connect, read = self.settings.timeout, read_timeout or self.settings.timeout
        if self.deadline is not None:  # stopping: end within the grace period
            left = max(self.deadline - time.monotonic(), LATE_CALL_TIMEOUT)
            connect, read = min(connect, left), min(read, left)
        return connect, read

    def _post(self, endpoint: str, body: Any, read_timeout: float | None = None) -> Any:
        timeout = self._timeouts(read_timeout)
        try:
            # verify per call: a session-level CA bundle loses to $REQUESTS_CA_BUNDLE
            # and $CURL_CA_BUNDLE in requests, so [emhub] verify would be ignored
            reply = self.http.post(self.settings.endpoint(endpoint), json=body,
                                   timeout=timeout, verify=self.settings.verify)
        except requests.exceptions.RequestException as exc:
            words = describe(exc, self.settings.url, timeout[0], timeout[1])
            if read_timeout is not None and isinstance(exc, requests.exceptions.ReadTimeout) \
                    and self.deadline is None:
                raise PollTimeout(f"{endpoint}: {words}") from exc
            raise TransportError(f"{endpoint}: {words}") from None
        status = reply.status_code
        if status == 401:
            raise LoginExpired(f"{endpoint}: HTTP 401, not logged in")
        if status >= 500 or status in (408, 429):
            raise TransportError(f"{endpoint}: HTTP {status} from {self.settings.url}")
        if status != 200:
            raise ProtocolError(f"{endpoint}: HTTP {status} from {self.settings.url}: "
                                f"is [emhub] url an EMhub server?")
        try:
            return reply.json()
        except ValueError:
            raise ProtocolError(f"{endpoint}: reply is not JSON: {reply.text[:120]!r}") from None

    def _result(self, endpoint: str, data: Any, key: str | None) -> Any:
        if isinstance(data, dict) and "error" in data:
            raise classify_error(endpoint, str(data["error"]))
        if key is None:
            return data
        if not isinstance(data, dict) or key not in data:
            raise ProtocolError(f"{endpoint}: expected a {key!r} result, got {str(data)[:120]}")
        return data[key]

    def _cookie_call(self, endpoint: str, body: Any, key: str | None) -> Any:
        """A call that needs the login cookie: log in first if needed, and again on a 401."""
        if not self._logins:
            self.login()
        try:
            data = self._post(endpoint, body)
        except LoginExpired:
            log.info("EMhub login expired; logging in again")
            self.login()
            data = self._post(endpoint, body)
        return self._result(endpoint, data, key)

    def _token_call(self, endpoint: str, attrs: Mapping[str, Any], key: str,
                    read_timeout: float | None = None) -> Any:
        if self.token is None:
            raise TokenRejected(f"{endpoint}: not connected (no worker token yet)")
        data = self._post(endpoint, {"attrs": {**attrs, "token": self.token}}, read_timeout)
        return self._result(endpoint, data, key)

    # -- authentication -------------------------------------------------------------------
    def login(self) -> None:
        """Log in with the user and password; :class:`AuthenticationError` if refused."""
        with self._login_lock:
            data = self._post("login", {"username": self.settings.user,
                                        "password": self.settings.password})
            self._result("login", data, None)
            if data != "OK":
                raise ProtocolError(f"login: expected \"OK\", got {str(data)[:120]}")
            self._logins += 1

    def connect_worker(self, specs: Mapping[str, Any]) -> str:
        """Register this worker's specs; keeps and returns the worker token."""
        token = self._cookie_call("connect_worker", {"attrs": {
            "worker": self.worker, "specs": dict(specs)}}, "token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("connect_worker: no token in the reply")
        self.token = token
        return token

    # -- tasks ----------------------------------------------------------------------------
    def get_pending_tasks(self) -> list[JSON]:
        """Tasks delivered to this worker and not finished (``done`` not yet sent)."""
        return _task_list("get_pending_tasks", self._token_call("get_pending_tasks", {},
                                                                "tasks"))

    def get_new_tasks(self) -> list[JSON]:
        """Long poll: EMhub answers at once when tasks wait, else after 60 s with none."""
        return _task_list("get_new_tasks", self._token_call(
            "get_new_tasks", {}, "tasks", read_timeout=self.settings.poll_timeout))

    def update_task(self, task_id: str, event: Mapping[str, Any]) -> None:
        """Append one event to the task's history (``done`` also acknowledges the task)."""
        result = self._token_call("update_task", {"task_id": task_id, "event": dict(event)},
                                  "task")
        if not isinstance(result, dict) or result.get("result") != "OK":
            raise ProtocolError(f"update_task: unexpected reply {str(result)[:120]}")

    # -- what handlers read and write -----------------------------------------------------
    def get_config(self, name: str) -> JSON:
        config = self._cookie_call("get_config", {"attrs": {"config": name}}, "config")
        if not isinstance(config, dict):
            raise ProtocolError(f"get_config {name}: expected an object, got "
                                f"{type(config).__name__}")
        return config

    def get_session(self, session_id: int) -> JSON:
        sessions = self._cookie_call("get_sessions", {
            "condition": f"id={int(session_id)}", "orderBy": None, "attrs": None}, None)
        if not isinstance(sessions, list):
            raise ProtocolError("get_sessions: expected a list")
        if not sessions:
            raise ServerError(f"get_sessions: no session with id {int(session_id)}")
        return dict(sessions[0])

    def get_session_users(self, session_id: int) -> JSON:
        users = self._cookie_call("get_session_users", {"attrs": {"id": int(session_id)}},
                                  "session_users")
        return dict(users)

    def get_resources(self) -> list[JSON]:
        resources = self._cookie_call("get_resources", {"attrs": None}, None)
        if not isinstance(resources, list):
            raise ProtocolError("get_resources: expected a list")
        return [dict(r) for r in resources]

    def update_session_extra(self, session_id: int, extra: Mapping[str, Any]) -> JSON:
        session = self._token_call("update_session_extra", {
            "id": int(session_id), "extra": dict(extra)}, "session")
        return dict(session)

    def set_session_data_path(self, session_id: int, data_path: str) -> JSON:
        """The session's ``data_path`` column (EMhub's live view reads processing there).

        A cookie call (``update_session``): no token endpoint can change a column."""
        session = self._cookie_call("update_session", {"attrs": {
            "id": int(session_id), "data_path": str(data_path)}}, "session")
        return dict(session)


def _task_list(endpoint: str, tasks: Any) -> list[JSON]:
    if not isinstance(tasks, list):
        raise ProtocolError(f"{endpoint}: expected a list of tasks, got {type(tasks).__name__}")
    return tasks

