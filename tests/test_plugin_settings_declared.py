"""The built-in plugins declare exactly the ``[plugins.<name>]`` keys their code reads.

Each plugin's settings reader is handed a mapping that records every key looked up; the
declaration (``emworker_plugin_settings``) must name exactly those, each described.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

import pytest

from emhub_worker_core.contract.emhub_services import InMemoryServices


class Recorder(Mapping[str, Any]):
    """An empty mapping that remembers every key asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def read_frames(config: Recorder) -> None:
    from emworker_frames_monitor.settings import load_settings

    # the task's root is EMhub's frames root: allowed without allowed_roots
    services = InMemoryServices(configs={"sessions": {"raw": {"root_frames": "/data/frames"}}})
    load_settings({"root": "/data/frames"}, config, services)


def read_slurm(config: Recorder) -> None:
    from emworker_cluster_slurm.settings import Settings

    Settings.from_task({}, config)


def read_lsf(config: Recorder) -> None:
    from emworker_cluster_lsf.handler import read_settings

    read_settings({}, config)


READERS: dict[str, Callable[[Recorder], None]] = {
    "emworker_frames_monitor": read_frames, "emworker_cluster_slurm": read_slurm,
    "emworker_cluster_lsf": read_lsf}


@pytest.mark.parametrize("package", sorted(READERS))
def test_declared_keys_are_the_keys_read(package: str) -> None:
    plugin = __import__(f"{package}.plugin", fromlist=["plugin"])
    declared = plugin.emworker_plugin_settings()
    config = Recorder()
    READERS[package](config)
    assert set(declared) == config.asked
    assert all(text and text != "(undocumented)" for text in declared.values()), declared


@pytest.mark.parametrize("package, settings_class", [
    ("emworker_session_transfer", "TransferSettings"), ("emworker_session_otf", "OtfSettings")])
def test_dataclass_settings_are_declared_field_for_field(package: str,
                                                         settings_class: str) -> None:
    plugin = __import__(f"{package}.plugin", fromlist=["plugin"])
    settings = __import__(f"{package}.settings", fromlist=["settings"])
    declared = plugin.emworker_plugin_settings()
    assert set(declared) == set(getattr(settings, settings_class).__dataclass_fields__)
    assert all(text and text != "(undocumented)" for text in declared.values()), declared


def test_plugin_modules_name_their_handlers_as_strings() -> None:
    from emhub_worker_core.host.lazy_handlers import LazyFactory
    from emhub_worker_core.host.plugin_loader import load_plugins

    plugins, router = load_plugins()
    builtin = {"frames-monitor", "session-transfer", "cluster-lsf", "cluster-slurm",
               "session-otf"}
    claims = [c for c in plugins.claims if c.plugin in builtin]
    assert {c.plugin for c in claims} == builtin
    assert all(isinstance(c.factory, LazyFactory) for c in claims)
    for claim in claims:  # every string names a real handler class
        assert isinstance(claim.factory, LazyFactory) and callable(claim.factory.load())
