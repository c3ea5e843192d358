"""What others can write, for real: links planted in the OTF folder by an unprivileged user
(uid 65534 through ``setpriv``), a full OTF disk (a small tmpfs made and removed here), and a
workflow that prints its environment on the real EMhub with the local executor and the
harness's real Slurm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from emworker_session_otf.executors.slurm import SlurmExecutor
from emworker_session_otf.folder import create_otf_folder
from emworker_session_otf.handler import OtfHandler
from emworker_testkit.slurm_cluster import SlurmCluster
from otf_fakes import SID, FakeSlurm, make_site, otf_of, run
from test_otf_real import executor, make  # noqa: F401 - the executor fixture

from emhub_worker_core import CommandResult
from emhub_worker_core.testing import as_unprivileged, make_context, reachable_tmp_dir


def need_root(what: str) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("mount"):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} needs root, setpriv and mount (CI runs as root)")
        pytest.skip(f"{what} needs root, setpriv and mount")


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's tmp_path is 0700 to root)."""
    with reachable_tmp_dir() as folder:
        yield folder


def test_links_planted_in_the_otf_folder_by_the_job_user_are_never_followed(
        shared: Path) -> None:
    need_root("planting links as nobody")
    site = make_site(shared)
    secret = shared / "root-only.txt"
    secret.write_text("root only secret\n")
    secret.chmod(0o600)
    victim = shared / "victim.txt"
    victim.write_text("intact\n")
    slurm = FakeSlurm()
    run(site, slurm, iterations=2)  # the folder is made, job 100 queued
    otf = shared / "otf" / "S42_OTF"
    otf.chmod(0o777)  # the job user writes its workflow's folder
    as_unprivileged(["/bin/sh", "-c", f"cd '{otf}' && rm -f movies.txt Krios01_gain.mrc && "
                     f"ln -s '{secret}' movies.txt && "
                     f"ln -s '{shared}/planted-gain' Krios01_gain.mrc && "
                     f"ln -s '{victim}' .otf_params.json.tmp && ln -s '{secret}' otf-100.log"])
    # a half-made folder is made again (a restart before the record): nothing followed
    h = OtfHandler(make_context({"name": "session", "args": {"session_id": SID}},
                                config=site["config"], services=site["emhub"],
                                runner=slurm.runner))
    h.setup()
    create_otf_folder(h.target)
    assert victim.read_text() == "intact\n", "written through a planted link"
    assert not (shared / "planted-gain").exists(), "the gain was copied through a link"
    assert not (otf / "Krios01_gain.mrc").is_symlink()
    assert (otf / "Krios01_gain.mrc").read_bytes() == b"g"
    # the tracking task: the linked feed is not read; the new feed replaces the link
    (site["raw"] / "Data" / "FoilHole_7_fractions.tiff").write_bytes(b"x")
    slurm.jobs["100"] = "RUNNING"
    tracked = run(site, slurm, iterations=3)
    assert not (otf / "movies.txt").is_symlink()
    feed = (otf / "movies.txt").read_text()
    assert "root only" not in feed and "FoilHole_7_fractions.tiff" in feed
    assert secret.read_text() == "root only secret\n" and secret.stat().st_mode & 0o777 == 0o600
    assert any("not read" in str(e.get("error", "")) for e in tracked.events)
    # the job fails: its log is a link to the secret, never read
    slurm.jobs["100"], slurm.exit = "FAILED", "1:0"
    failed = run(site, slurm, iterations=2)
    assert failed.last["otf_status"] == "failed"
    assert "root only" not in json.dumps(failed.events) and "root only" not in json.dumps(
        otf_of(site))


def test_a_full_otf_disk_is_reported_and_tracking_goes_on(tmp_path: Path) -> None:
    need_root("a size-limited tmpfs")
    site = make_site(tmp_path)
    otf_root = tmp_path / "otf"
    otf_root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(otf_root)],
                   check=True, timeout=30)
    try:
        slurm = FakeSlurm()
        run(site, slurm, iterations=2)
        filler = otf_root / "filler"
        with open(filler, "wb") as fh:  # the workflow filled the disk
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        for n in (7, 8):
            (site["raw"] / "Data" / f"FoilHole_{n}_fractions.tiff").write_bytes(b"x")
        slurm.jobs["100"] = "RUNNING"
        full = run(site, slurm, iterations=3)
        assert "stack" not in json.dumps(full.events) and not full.done, full.events
        assert any("No space left" in str(e.get("error", "")) for e in full.events)
        assert otf_of(site)["status"] == "running"  # still followed
        filler.unlink()
        again = run(site, slurm, iterations=3)
        lines = (otf_root / "S42_OTF" / "movies.txt").read_text().splitlines()
        assert len(lines) == 5 and not again.done
    finally:
        subprocess.run(["umount", str(otf_root)], check=False, timeout=30)


@pytest.mark.emhub
def test_a_workflow_that_prints_its_environment_sees_no_secret(
        emhub_server: Any, tmp_path: Path,
        executor: tuple[str, SlurmCluster | None]) -> None:  # noqa: F811
    name, cluster = executor
    s = make(emhub_server, tmp_path, executor, argv=["/usr/bin/env"])
    s.env.update(EMHUB_PASSWORD=emhub_server.password,
                 EMWORKER_TEST_SECRET="otf-secret-7f3a")
    try:
        history, otf = s.run_session()
        assert otf["status"] == "finished", (otf, history[-1])
        printed = Path(otf["log"]).read_text()
        assert "PATH=" in printed, printed
        assert "EMHUB_PASSWORD" not in printed and "otf-secret-7f3a" not in printed, printed
        if name == "local":  # exactly the allow-list the worker has
            names = {line.split("=", 1)[0] for line in printed.splitlines() if "=" in line}
            assert names <= {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ",
                             "TMPDIR"}, names
        # Slurm adds SLURM_* and, for an --export list without ALL, loads the job user's
        # own login environment (22.05): neither holds the worker's secrets
    finally:
        s.close()


class ClusterRunner:
    """Runs commands against the harness's Slurm (its SLURM_CONF), as a worker would."""

    def __init__(self, cluster: SlurmCluster) -> None:
        self.cluster = cluster

    def run(self, argv: Any, *, timeout: float = 60.0, check: bool = True,
            env: Any = None) -> CommandResult:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              env={**(env or os.environ), "SLURM_CONF": str(self.cluster.conf)})
        return CommandResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.slurm
def test_real_slurm_names_our_jobs_and_a_strangers(slurm_cluster: SlurmCluster) -> None:
    slurm_cluster.cancel_all()
    try:
        ours = slurm_cluster.submit("debug", "root", Path("/tmp"),
                                    "--job-name=emworker-otf-9042-1700000000-1")
        theirs = slurm_cluster.submit("debug", "emw_alice", Path("/tmp"),
                                      "--job-name=emworker-otf-9042-1700000000-2")
        executor = SlurmExecutor(ClusterRunner(slurm_cluster), 30)
        found = {job.job_id: job for job in executor.live_jobs("emworker-otf-9042-")}
        assert set(found) == {ours, theirs}
        assert (found[ours].name, found[ours].user) == ("emworker-otf-9042-1700000000-1",
                                                        "root")
        assert found[theirs].user == "emw_alice"
        owner = executor.owner(ours)
        assert owner is not None and (owner.name, owner.user) == (
            "emworker-otf-9042-1700000000-1", "root")
        assert executor.find("emworker-otf-9042-1700000000-1") == ours
        assert executor.owner("999999") is None  # unknown to the controller: not an error
    finally:
        slurm_cluster.cancel_all()
