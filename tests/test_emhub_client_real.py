"""EMhubClient against the real EMhub 1.0.2 + Redis: error shapes, re-login, connection reuse."""

from __future__ import annotations

from typing import Iterator

import pytest

from emhub_worker_core.contract.errors import AuthenticationError, EventRejected, ServerError
from emhub_worker_core.sources.emhub.client import EMhubClient, ServerBusy, TokenRejected
from emhub_worker_core.sources.emhub.settings import load_settings
from tests.harness.emhub_server import EMhubServer

pytestmark = pytest.mark.emhub
WORKER = "spare-3.test"


def make_client(server: EMhubServer, worker: str = WORKER, **changes: str) -> EMhubClient:
    section = {"url": server.url, "user": server.user, "password": server.password, **changes}
    return EMhubClient(load_settings(section, {}), worker)


@pytest.fixture
def client(emhub_server: EMhubServer) -> Iterator[EMhubClient]:
    client = make_client(emhub_server)
    client.connect_worker({"probe": "client test"})
    yield client
    client.close()


def new_connections(client: EMhubClient) -> int:
    """How many TCP connections the client's pool has opened so far."""
    adapter = client.http.get_adapter(client.settings.url)
    pool = adapter.poolmanager.connection_from_url(client.settings.url)  # type: ignore[attr-defined]
    return int(pool.num_connections)


def test_wrong_password_and_unregistered_name_are_authentication_errors(
        emhub_server: EMhubServer) -> None:
    with pytest.raises(AuthenticationError, match="Invalid username or password"):
        make_client(emhub_server, password="wrong").login()
    with pytest.raises(AuthenticationError, match="Unregistered host ghost.test"):
        make_client(emhub_server, worker="ghost.test").connect_worker({})


def test_tasks_round_trip_on_one_connection(emhub_server: EMhubServer,
                                            client: EMhubClient) -> None:
    with emhub_server.admin() as admin:
        task_id = admin.create_task(WORKER, "echo", {"n": 1})
        # A poll some earlier worker abandoned may have taken it: then it is pending.
        tasks = client.get_pending_tasks()
        if task_id not in [t["id"] for t in tasks]:
            tasks = client.get_new_tasks()
        assert {"id": task_id, "name": "echo", "args": {"n": 1}} in \
            [{k: t[k] for k in ("id", "name", "args")} for t in tasks]
        before = new_connections(client)
        for i in range(20):
            client.update_task(task_id, {"step": i})
        client.update_task(task_id, {"done": 1})
        assert new_connections(client) == before  # the same connection, reused
        assert [e.get("step") for e in admin.task_history(task_id)[:20]] == \
            [str(i) for i in range(20)]
        assert admin.task_status(WORKER, task_id) == "done"


def test_refused_events_raise(emhub_server: EMhubServer, client: EMhubClient) -> None:
    with emhub_server.admin() as admin:
        task_id = admin.create_task(WORKER, "echo", {})
    with pytest.raises(EventRejected, match="Invalid input of type: 'bool'"):
        client.update_task(task_id, {"flag": True})  # what encode_event exists to prevent
    with pytest.raises(EventRejected, match="non-empty"):
        client.update_task(task_id, {})
    client.update_task(task_id, {"done": 1})


def test_a_lost_cookie_means_a_new_login(client: EMhubClient) -> None:
    client.http.cookies.clear()
    assert "raw" in client.get_config("sessions")
    assert client.get_config("no-such-config") == {}


def test_a_foreign_token_is_rejected(client: EMhubClient) -> None:
    client.token = "not.a.jwt"
    with pytest.raises(TokenRejected, match="Invalid token"):
        client.get_pending_tasks()


def test_sessions_read_and_extra_merged(emhub_server: EMhubServer, client: EMhubClient) -> None:
    session_id = emhub_server.transfer_session["id"]
    assert client.get_session(session_id)["name"] == emhub_server.transfer_session["name"]
    users = client.get_session_users(session_id)
    assert users["owner"]["email"] == "jane.doe@inst.org" and users["group"] == "doegrp"
    assert "Krios01" in [r["name"] for r in client.get_resources()]
    extra = client.update_session_extra(302, {"client_test": {"ok": 1}})["extra"]
    assert extra["client_test"] == {"ok": 1} and "raw" in extra
    with pytest.raises(ServerError, match="no session with id 999"):
        client.get_session(999)
    with pytest.raises(ServerError, match="has no attribute 'extra'"):
        client.update_session_extra(999, {"x": 1})


def test_redis_down_is_a_transient_server_busy(emhub_server: EMhubServer,
                                               client: EMhubClient) -> None:
    emhub_server.stop_redis()
    try:
        with pytest.raises(ServerBusy, match="cannot use its Redis"):
            client.get_pending_tasks()
    finally:
        emhub_server.start_redis()
    client.get_pending_tasks()  # EMhub reconnects to Redis by itself
