"""Where a transfer's time goes: CPU, run-queue wait and blocked time per thread, the disk's
bytes and busy time, and (``--strace``) system calls per file, against ``cp -r``.

One method at a time runs in a child process on a fresh copy of a ``transfer_bench``
part, page cache dropped first, final ``sync`` inside; its threads are sampled from
``/proc/<pid>/task/*/{stat,schedstat}`` every 10 ms (a thread's last sample counts), the
disk's counters from ``/sys/block/<disk>/stat`` before and after (other processes' I/O on
that disk counts too: on a shared machine, read them as an upper bound).

Usage: ``.venv/bin/python bench/transfer_profile.py [--part small|large] [--files 3000]
[--methods ours,ours-size,cp] [--strace] [--workdir /var/tmp/transfer-profile]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import transfer_bench as bench  # noqa: E402
from transfer_baselines import drop_caches, fresh_workdir, session_dirs  # noqa: E402

BENCH = Path(__file__).parent
CALLS = {"ours": "bench.ours()", "ours-size": "bench.ours(verify='size')",
         "cp": "baselines.cp_r"}


def child_code(method: str, src: Path, dst: Path) -> str:
    return (f"import os, sys; sys.path.insert(0, {str(BENCH)!r}); "
            "import transfer_bench as bench, transfer_baselines as baselines; "
            f"from pathlib import Path; {CALLS[method]}(Path({str(src)!r}), "
            f"Path({str(dst)!r})); os.sync()")


def disk_of(path: Path) -> str:
    """The whole-disk name under /sys/block holding ``path`` (vda for vda1)."""
    dev = os.stat(path).st_dev
    link = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}").resolve()
    return link.name if (Path("/sys/block") / link.name).exists() else link.parent.name


def disk_counters(disk: str) -> tuple[int, int, int]:
    """(bytes read, bytes written, ms busy) of ``disk`` so far."""
    fields = Path(f"/sys/block/{disk}/stat").read_text().split()
    return int(fields[2]) * 512, int(fields[6]) * 512, int(fields[9])


def sample_threads(pid: int, seen: dict[str, list[float]]) -> None:
    """Latest (cpu, run-queue wait, user, sys, first seen, last seen) of each thread."""
    hz = os.sysconf("SC_CLK_TCK")
    now = time.monotonic()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            run, wait, _slices = map(int, Path(f"/proc/{pid}/task/{tid}/schedstat")
                                     .read_text().split())
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        first = seen[tid][4] if tid in seen else now
        seen[tid] = [run / 1e9, wait / 1e9, int(fields[11]) / hz, int(fields[12]) / hz,
                     first, now]


def profile(method: str, part: Path, work: Path) -> None:
    src, dst = session_dirs(work)
    subprocess.run(["cp", "-a", str(part), str(src)], check=True)
    drop_caches()
    disk = disk_of(work)
    before = disk_counters(disk)
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", child_code(method, src, dst)])
    seen: dict[str, list[float]] = {}
    while True:  # reaped here: wait4 gives the CPU of the whole process, its children too
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        sample_threads(child.pid, seen)
        time.sleep(0.01)
    wall = time.monotonic() - start
    read, written, busy = (a - b for a, b in zip(disk_counters(disk), before))
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen is told
    if child.returncode:
        raise SystemExit(f"{method} failed ({child.returncode})")
    print(f"\n{method}: {wall:.2f} s (process start-up included); CPU user "
          f"{usage.ru_utime:.2f} s, sys {usage.ru_stime:.2f} s; {disk}: read "
          f"{read / 1e6:.0f} MB, written {written / 1e6:.0f} MB, busy {busy / 1e3:.2f} s")
    print(f"  {'thread':>8}{'alive s':>9}{'cpu s':>7}{'user':>6}{'sys':>6}"
          f"{'rq wait':>8}{'blocked':>8}")
    for tid, (cpu, wait, user, system, first, last) in sorted(
            seen.items(), key=lambda item: -item[1][0]):
        alive = last - first
        print(f"  {tid:>8}{alive:>9.2f}{cpu:>7.2f}{user:>6.2f}{system:>6.2f}{wait:>8.2f}"
              f"{max(0.0, alive - cpu - wait):>8.2f}")
    shutil.rmtree(dst)
    shutil.rmtree(src, ignore_errors=True)


def syscalls(method: str, part: Path, work: Path, empty: Path) -> dict[str, int]:
    """``strace -c -f`` counts of ``method`` on ``part`` minus those on an empty session."""
    counts: dict[str, int] = {}
    for source, sign in ((part, 1), (empty, -1)):
        src, dst = session_dirs(work)
        subprocess.run(["cp", "-a", str(source), str(src)], check=True)
        drop_caches()
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
            subprocess.run(["strace", "-c", "-f", "-o", out.name, sys.executable, "-c",
                            child_code(method, src, dst)], check=True)
            for line in out.read().splitlines():
                fields = line.split()
                if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                    counts[fields[-1]] = counts.get(fields[-1], 0) + sign * int(fields[3])
        shutil.rmtree(dst)
        shutil.rmtree(src, ignore_errors=True)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("small", "large"), default="small")
    parser.add_argument("--files", type=int, default=3000, help="small files, or movies")
    parser.add_argument("--methods", default="ours,ours-size,cp")
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/transfer-profile"))
    args = parser.parse_args()
    work = fresh_workdir(args.workdir)
    part = work / args.part
    try:
        if args.part == "large":
            bench.build_large(part, args.files, 136)
        else:
            bench.build_small(part, args.files)
        methods = args.methods.split(",")
        for method in methods:
            profile(method, part, work)
        if args.strace:
            counts = {m: syscalls(m, part, work, work / "empty") for m in methods}
            names = sorted({n for c in counts.values() for n in c},
                           key=lambda n: -max(c.get(n, 0) for c in counts.values()))
            print(f"\nsystem calls per file (strace -c -f, empty session subtracted), "
                  f"{args.files} files:")
            print(f"  {'call':<18}" + "".join(f"{m:>11}" for m in methods))
            for name in names:
                per = [counts[m].get(name, 0) / args.files for m in methods]
                if max(per) >= 0.05:
                    print(f"  {name:<18}" + "".join(f"{p:>11.2f}" for p in per))
            print(f"  {'total':<18}" + "".join(
                f"{sum(counts[m].values()) / args.files:>11.2f}" for m in methods))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
