"""How long ``emworker --version`` and ``emworker plugins list`` take, above python start-up.

Baseline in the same run: ``python -c pass`` (what any command pays). Optionally a second
baseline, the same commands from an older commit (``--ref``): its core and built-in
plugins are exported with ``git archive`` to a temporary folder and put first on
``sys.path`` with the editable-install finders removed, so both versions use the same
installed entry points and the same interpreter. Both run through the same small
launcher (:data:`LAUNCH`), so its cost is the same on both sides.

All variants run interleaved in one loop, with no pause, so a load change on the machine
hits them alike. Reported: the median wall time of each variant, its cost above
``python -c pass``, and the ratio new/old of those costs. The page cache is warm on
purpose (a command line is run again and again); dropping it would measure the disk.

    .venv/bin/python bench/cli_startup.py --runs 30 --ref 26b00bb
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIRS = ["plugins/frames-monitor", "plugins/session-transfer", "plugins/cluster-lsf",
               "plugins/cluster-slurm"]
#: ``python -c LAUNCH ROOTS ARGS...``: emworker from ``ROOTS`` (``os.pathsep``-separated),
#: or from the installed packages when ``ROOTS`` is empty.
LAUNCH = """
import sys
roots, args = sys.argv[1], sys.argv[2:]
if roots:
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
    sys.path[:0] = roots.split(":")
sys.argv = ["emworker", *args]
from emhub_worker_core.cli import entry_point
entry_point()
"""
COMMANDS = {"--version": ["--version"], "plugins list": ["plugins", "list"],
            "plugins list --json": ["plugins", "list", "--json"]}


def export(ref: str, into: Path) -> list[str]:
    """The ``PYTHONPATH`` entries that make ``ref``'s core and plugins importable."""
    archive = into / "src.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", ref], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "src")  # our own archive of our own repository
    return [str(into / "src")] + [str(into / "src" / d) for d in PLUGIN_DIRS]


def check_sources(roots: str) -> None:
    """Fail loudly if the launcher would not run the exported code."""
    probe = LAUNCH.split("sys.argv = ")[0] + \
        "import emhub_worker_core; print(emhub_worker_core.__file__)"
    where = subprocess.run([sys.executable, "-c", probe, roots], capture_output=True,
                           text=True, check=True).stdout.strip()
    if not where.startswith(roots.split(os.pathsep)[0]):
        raise SystemExit(f"the baseline would import {where}, not the exported commit")


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--ref", help="an older commit to compare with (e.g. the base)")
    args = parser.parse_args()
    env = {**os.environ, "HOME": tempfile.mkdtemp(), "EMHUB_SERVER_URL": ""}
    env.pop("EMWORKER_CONFIG", None)
    variants: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], env)}
    for label, argv in COMMANDS.items():
        variants[f"now  {label}"] = ([sys.executable, "-c", LAUNCH, "", *argv], env)
    with tempfile.TemporaryDirectory() as folder:
        if args.ref:
            roots = os.pathsep.join(export(args.ref, Path(folder)))
            check_sources(roots)
            for label, argv in COMMANDS.items():
                variants[f"{args.ref[:7]} {label}"] = (
                    [sys.executable, "-c", LAUNCH, roots, *argv], env)
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for argv, run_env in variants.values():  # one warm-up each, not counted
            timed(argv, run_env)
        for _ in range(args.runs):
            for name, (argv, run_env) in variants.items():
                samples[name].append(timed(argv, run_env))
    base = statistics.median(samples["python -c pass"])
    print(f"{args.runs} runs each, interleaved; median wall time, and cost above "
          f"python start-up ({base * 1000:.0f} ms)")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:32s} {median * 1000:7.1f} ms   +{(median - base) * 1000:6.1f} ms")
    if args.ref:
        for label in COMMANDS:
            new = statistics.median(samples[f"now  {label}"]) - base
            old = statistics.median(samples[f"{args.ref[:7]} {label}"]) - base
            print(f"  {label}: cost now / cost at {args.ref[:7]} = {new / old:.2f}")


if __name__ == "__main__":
    main()
