"""The machine facts a worker sends with connect_worker."""

from __future__ import annotations

from emhub_worker_core.sources.emhub.specs import gpus, worker_specs
from emhub_worker_core.testing import FakeRunner


def test_gpus_are_counted_per_model() -> None:
    runner = FakeRunner({"nvidia-smi": "NVIDIA A100-SXM4-40GB, 40960 MiB\n"
                                       "NVIDIA A100-SXM4-40GB, 40960 MiB\n"
                                       "Tesla T4, 15360 MiB\n"})
    assert gpus(runner) == {"NVIDIA A100-SXM4-40GB": {"count": 2, "memory": "40960 MiB"},
                            "Tesla T4": {"count": 1, "memory": "15360 MiB"}}


def test_no_nvidia_smi_means_no_gpus() -> None:
    assert gpus(FakeRunner({})) == {}


def test_host_specs_are_kept_and_machine_facts_added() -> None:
    specs = worker_specs({"emworker": "0.1.0", "plugins": {"echo": "0.1.0"},
                          "tasks": ["echo"]}, FakeRunner({}))
    assert specs["tasks"] == ["echo"] and specs["plugins"] == {"echo": "0.1.0"}
    assert specs["CPUs"] >= 1 and specs["MEM"] >= 1 and specs["host"] and specs["python"]
