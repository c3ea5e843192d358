"""EMhubClient against a fake transport: the error shapes a real server rarely gives.

The common shapes are also proven on the real server (test_emhub_client_real.py).
"""

from __future__ import annotations

import json as jsonlib
import logging
from typing import Any, Callable

import pytest
import requests

from emhub_worker_core.contract.errors import (
    AuthenticationError,
    EventRejected,
    ProtocolError,
    ServerError,
    TransportError,
)
from emhub_worker_core.sources.emhub.client import (
    EMhubClient,
    LoginExpired,
    PollTimeout,
    ServerBusy,
    TokenRejected,
)
from emhub_worker_core.sources.emhub.settings import EMhubSettings

SECRET = "s3cret-Passw0rd"
TOKEN = "tok-9f8e7d"
SETTINGS = EMhubSettings(url="https://emhub.example", user="worker-bot", password=SECRET,
                         timeout=7, poll_timeout=90)


class FakeResponse:
    """A reply with a raw body (HTML pages and the like)."""

    def __init__(self, status: int, text: str) -> None:
        self.status_code = status
        self.text = text

    def json(self) -> Any:
        return jsonlib.loads(self.text)


Reply = Any  # FakeResponse, an exception to raise, or a JSON body (HTTP 200)


class FakeHTTP:
    """Answers by endpoint from scripted queues; records every call."""

    def __init__(self, **replies: list[Reply]) -> None:
        self.replies = {k: list(v) for k, v in replies.items()}
        self.calls: list[tuple[str, Any, Any]] = []

    def post(self, url: str, json: Any = None, timeout: Any = None,
             verify: Any = True) -> FakeResponse:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls.append((endpoint, json, timeout))
        queue = self.replies.get(endpoint) or [{"error": f"no reply scripted for {endpoint}"}]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, BaseException):
            raise reply
        return reply if isinstance(reply, FakeResponse) else FakeResponse(200, jsonlib.dumps(reply))

    def close(self) -> None:
        pass

    def endpoints(self) -> list[str]:
        return [c[0] for c in self.calls]


def client_with(**replies: list[Reply]) -> tuple[EMhubClient, FakeHTTP]:
    http = FakeHTTP(login=["OK"], **replies)
    return EMhubClient(SETTINGS, "w1.test", http=http), http  # type: ignore[arg-type]


def connected(**replies: list[Reply]) -> tuple[EMhubClient, FakeHTTP]:
    client, http = client_with(connect_worker=[{"token": TOKEN}], **replies)
    client.connect_worker({"CPUs": 2})
    return client, http


def test_connect_logs_in_first_and_keeps_the_token() -> None:
    client, http = connected()
    assert http.endpoints() == ["login", "connect_worker"]
    assert http.calls[0][1] == {"username": "worker-bot", "password": SECRET}
    assert http.calls[1][1] == {"attrs": {"worker": "w1.test", "specs": {"CPUs": 2}}}
    assert client.token == TOKEN


def test_every_call_has_a_timeout_and_the_long_poll_a_longer_one() -> None:
    client, http = connected(get_new_tasks=[{"tasks": []}], update_task=[{"task":
                                                                            {"result": "OK"}}])
    client.get_new_tasks()
    client.update_task("1-0", {"msg": "x"})
    timeouts = {endpoint: timeout for endpoint, _body, timeout in http.calls}
    assert timeouts["login"] == (7, 7) and timeouts["update_task"] == (7, 7)
    assert timeouts["get_new_tasks"] == (7, 90)
    assert http.calls[-1][1] == {"attrs": {"task_id": "1-0", "event": {"msg": "x"},
                                           "token": TOKEN}}


@pytest.mark.parametrize("reply, error", [
    ({"error": "Invalid username or password"}, AuthenticationError),
    (FakeResponse(500, "<html>Internal Server Error</html>"), TransportError),
    (requests.ConnectionError("refused"), TransportError),
    ("NOT-OK", ProtocolError),
])
def test_login_failures_are_typed(reply: Reply, error: type[Exception]) -> None:
    client, _ = client_with()
    client.http.replies["login"] = [reply]  # type: ignore[attr-defined]
    with pytest.raises(error):
        client.login()


@pytest.mark.parametrize("message, error", [
    ("ERROR from Server: Unregistered host w1.test", AuthenticationError),
    ("ERROR from Server: Invalid token for this worker", TokenRejected),
    ("ERROR from Server: Error 111 connecting to 127.0.0.1:6379. Connection refused.",
     ServerBusy),
    ("ERROR from Server: Redis is loading the dataset in memory", ServerBusy),
    ("ERROR from Server: NOGROUP No such key 'w1.test:tasks' or consumer group 'group'",
     ServerBusy),
    ("ERROR from Server: 'name'", ServerError),
])
def test_error_replies_become_typed_exceptions(message: str, error: type[Exception]) -> None:
    client, _ = connected(get_new_tasks=[{"error": message}])
    with pytest.raises(error) as caught:
        client.get_new_tasks()
    assert "ERROR from Server" not in str(caught.value)


def test_a_refused_event_is_event_rejected_never_none() -> None:
    client, _ = connected(update_task=[{"error": "ERROR from Server: Invalid input of type: "
                                                 "'dict'. Convert to a bytes, string, int or "
                                                 "float first."}])
    with pytest.raises(EventRejected, match="Invalid input of type"):
        client.update_task("1-0", {"nested": "x"})


@pytest.mark.parametrize("reply, error", [
    (FakeResponse(405, "<html>Method Not Allowed</html>"), ProtocolError),
    (FakeResponse(200, "<html>maintenance</html>"), ProtocolError),
    (FakeResponse(502, "Bad Gateway"), TransportError),
    ({"unexpected": 1}, ProtocolError),
    ({"tasks": {"not": "a list"}}, ProtocolError),
    (requests.ReadTimeout("read timed out"), PollTimeout),
    (requests.ConnectionError("Connection aborted"), TransportError),
    (requests.exceptions.SSLError("certificate verify failed"), TransportError),
])
def test_transport_and_protocol_failures(reply: Reply, error: type[Exception]) -> None:
    client, _ = connected(get_new_tasks=[reply])
    with pytest.raises(error):
        client.get_new_tasks()


def test_a_401_logs_in_again_once_and_repeats_the_call() -> None:
    client, http = connected(get_config=[FakeResponse(401, "Unauthorized"),
                                         {"config": {"raw": {}}}])
    assert client.get_config("sessions") == {"raw": {}}
    assert http.endpoints() == ["login", "connect_worker", "get_config", "login", "get_config"]


def test_a_second_401_is_raised_as_login_expired() -> None:
    client, http = connected(get_config=[FakeResponse(401, "Unauthorized")])
    with pytest.raises(LoginExpired):
        client.get_config("sessions")
    assert http.endpoints().count("login") == 2  # one re-login, no loop


def test_token_calls_before_connecting_say_so() -> None:
    client, http = client_with()
    with pytest.raises(TokenRejected, match="not connected"):
        client.get_pending_tasks()
    assert http.calls == []


def test_session_helpers_send_the_shapes_emhub_expects() -> None:
    client, http = connected(
        get_sessions=[[{"id": 301, "name": "S1", "extra": {}}], []],
        get_session_users=[{"session_users": {"group": "doegrp"}}],
        get_resources=[[{"id": 1, "name": "Krios01"}]],
        update_session_extra=[{"session": {"id": 301, "extra": {"raw": {}}}}])
    assert client.get_session(301)["name"] == "S1"
    with pytest.raises(ServerError, match="no session with id 302"):
        client.get_session(302)
    assert client.get_session_users(301) == {"group": "doegrp"}
    assert client.get_resources() == [{"id": 1, "name": "Krios01"}]
    assert client.update_session_extra(301, {"raw": {}})["id"] == 301
    bodies = {endpoint: body for endpoint, body, _ in http.calls}
    assert bodies["get_sessions"]["condition"] == "id=302"
    assert bodies["get_session_users"] == {"attrs": {"id": 301}}
    assert bodies["update_session_extra"] == {"attrs": {"id": 301, "extra": {"raw": {}},
                                                        "token": TOKEN}}


def test_secrets_never_reach_messages_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    failures: list[Callable[[EMhubClient], Any]] = [
        lambda c: c.login(), lambda c: c.get_new_tasks(), lambda c: c.update_task("1-0", {"a": 1})]
    for call in failures:
        client, http = connected()
        for endpoint in ("login", "get_new_tasks", "update_task"):
            http.replies[endpoint] = [{"error": "ERROR from Server: boom"}]
        with pytest.raises(Exception) as caught:
            call(client)
        assert SECRET not in str(caught.value) and TOKEN not in str(caught.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(SETTINGS)
