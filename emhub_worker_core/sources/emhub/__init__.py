"""Working against a real EMhub server: client, task source, services, settings.

The CLI uses two functions: :func:`open_source` (``emworker run``) and :func:`probe`
(``emworker check``).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from ...contract.errors import AuthenticationError, EMhubError
from .client import EMhubClient
from .settings import EMhubSettings, load_settings
from .task_source import EMhubTaskSource, RemoteServices


def open_source(config_section: Mapping[str, Any], worker_name: str,
                env: Mapping[str, str] | None = None) -> EMhubTaskSource:
    """The task source for ``[emhub]`` settings and a worker name (``env``: see
    :func:`~emhub_worker_core.sources.emhub.settings.load_settings`).

    Nothing is sent yet: the host calls ``open(specs, stop)``, which connects."""
    settings = load_settings(config_section, env)
    return EMhubTaskSource(EMhubClient(settings, worker_name), settings)


def probe(config_section: Mapping[str, Any], worker_name: str,
          env: Mapping[str, str] | None = None) -> Iterator[tuple[str, bool, str]]:
    """Checks for ``emworker check``: server, credentials, worker name. Claims no task and
    changes nothing on the server (the name is looked up in ``config:hosts``)."""
    settings = load_settings(config_section, env)
    client = EMhubClient(settings, worker_name)
    try:
        try:
            client.login()
        except AuthenticationError as exc:
            yield "server", True, f"{settings.url} answers"
            yield "credentials", False, f"user {settings.user}: {exc}"
            return
        except EMhubError as exc:
            yield "server", False, f"{settings.url}: {exc}"
            return
        yield "server", True, f"{settings.url} answers"
        yield "credentials", True, f"logged in as {settings.user}"
        try:
            hosts = client.get_config("hosts")
        except EMhubError as exc:
            yield "worker name", False, f"cannot read config:hosts: {exc}"
            return
        if worker_name in hosts:
            yield "worker name", True, f"{worker_name} is registered in config:hosts"
        else:
            yield "worker name", False, (
                f"{worker_name} is not in EMhub's config:hosts form (registered: "
                f"{', '.join(sorted(hosts)) or 'none'}); add it and restart EMhub")
    finally:
        client.close()


__all__ = ["EMhubClient", "EMhubSettings", "EMhubTaskSource", "RemoteServices", "load_settings",
           "open_source", "probe"]
