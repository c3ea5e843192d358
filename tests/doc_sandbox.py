"""A folder where the docs' examples run as written: the paths they name are inside it.

The examples name a machine's paths (``/etc/emworker``, ``/data/frames``, ``/opt/emworker``)
and EMhub's address. :class:`Sandbox` runs them with each such path moved under its own
folder (``/data/frames`` is ``<sandbox>/data/frames``), ``emworker`` and ``pip`` the suite's
own (``pip`` installs offline into the sandbox's ``site``), and, against the real EMhub,
``https://emhub.example.org`` the test server, the worker names of the docs one name its
``config:hosts`` has, the account of the docs a plain ``user`` account of it. Nothing else
of an example's text changes; what cannot run here is refused by the caller
(tests/test_docs_examples.py lists each with its reason).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from tests.doc_examples import REPO

if TYPE_CHECKING:
    from emworker_testkit.emhub_server import EMhubServer

#: The machine's folders the examples name; each becomes a folder of the sandbox.
MACHINE_PATHS = ("/data", "/etc/emworker", "/var/lib/emworker", "/mnt", "/software",
                 "/usr/share/doc/emworker", "/etc/systemd/system", "/root/wheelhouse")
_MACHINE_PATH = re.compile(r"(?<![\w.~/-])(" + "|".join(map(re.escape, MACHINE_PATHS)) +
                           r")(?=[/\"'\s,)\]}]|$)")
#: The folders of the machine the examples take as there (a frames share, storage).
EXISTING = ("/data/frames", "/data/offload", "/data/otf")
#: The programs the examples call by the paths of an installation.
PROGRAMS = {"/opt/emworker/bin/emworker": "emworker", ".venv/bin/emworker": "emworker",
            "/opt/emworker/bin/pip": "pip", ".venv/bin/python": "python"}
#: The worker names and account of the docs, for the real EMhub's registered name and a
#: plain ``user`` account of the test instance (tests/harness/emhub/instance_data.json).
DOC_WORKERS = ("krios01-storage.example.org", "krios01-transfer.example.org")
WORKER = "docs-2.test"
DOC_URL = "https://emhub.example.org"
PLAIN_USER, PLAIN_PASSWORD = "john.smith@inst.org", "smith"

#: The sandbox user's own configuration (``~/.config/emworker/config.toml``), read by the
#: examples that name no ``--config``: scans a second apart instead of 30 or 60 s, so a
#: run of three steps takes seconds. An example's own settings and args still win.
USER_CONFIG = """\
[plugins.frames-monitor]
period = 1
min_period = 0

[plugins.session-transfer]
period = 1
"""

#: bash functions standing for the installed programs (``pip`` installs offline into
#: ``$SITE``: the suite has no package index)
PREAMBLE = r'''
emworker() { "$PY" -m emhub_worker_core "$@"; }
python() { "$PY" "$@"; }
run_for() {  # run_for SECONDS emworker ARGS...: SIGTERM after SECONDS; its exit code
    local seconds=$1; shift 2
    "$PY" -m emhub_worker_core "$@" &
    local pid=$!
    sleep "$seconds"; kill -TERM "$pid"; wait "$pid"
}
pytest() { "$PY" -m pytest -q -p no:cacheprovider "$@"; }
pip() {
    [ "$1" = install ] || { echo "pip $1: not run here" >&2; return 2; }
    shift
    local args=() arg dir copy
    for arg in "$@"; do
        case $arg in -e|--upgrade) continue ;; esac
        dir=${arg%%\[*}
        if [ -d "$dir" ]; then  # built from a copy: setuptools writes build/ beside its sources
            copy=$(mktemp -d "$SITE.src-XXXX")
            tar -C "$dir" --exclude=build --exclude='*.egg-info' --exclude='.venv*' \
                --exclude=.test-run --exclude=__pycache__ -cf - . | tar -C "$copy" -xf -
            arg=$copy${arg#"$dir"}
        fi
        args+=("$arg")
    done
    "$PY" -m pip install --quiet --no-deps --no-build-isolation --no-index \
        --disable-pip-version-check --upgrade --target "$SITE" "${args[@]}"
}
'''


@dataclass
class Sandbox:
    root: Path
    emhub: Optional[EMhubServer] = None
    ran: list[str] = field(default_factory=list)  # the script lines run, for messages

    def __post_init__(self) -> None:
        for name in ("home", "site", *[p.lstrip("/") for p in (*MACHINE_PATHS, *EXISTING)]):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        # a clone, as the examples expect it: in the current folder, and as ./emworker
        for name in ("contrib", "plugins", "scripts", "examples", "bench", "docs"):
            link = self.root / name
            if not link.exists():
                link.symlink_to(REPO / name)
        if not (self.root / "emworker").exists():
            (self.root / "emworker").symlink_to(REPO)
        user_config = self.root / "home" / ".config" / "emworker" / "config.toml"
        user_config.parent.mkdir(parents=True, exist_ok=True)
        user_config.write_text(USER_CONFIG)

    def text(self, text: str) -> str:
        """``text`` with the machine's paths (and EMhub's address, names, account) moved."""
        for program, name in PROGRAMS.items():
            text = re.sub(r"(?<![\w/.-])" + re.escape(program) + r"(?![\w/-])", name, text)
        text = _MACHINE_PATH.sub(lambda m: str(self.root) + m.group(1), text)
        if self.emhub is not None:
            text = text.replace(DOC_URL, self.emhub.url)
            for name in DOC_WORKERS:
                text = text.replace(name, WORKER)
            text = re.sub(r'^user = "(emworker|worker)"', f'user = "{PLAIN_USER}"', text,
                          flags=re.M)
        return text

    def path(self, machine_path: str) -> Path:
        """Where the sandbox keeps ``machine_path`` (absolute) or a file of its folder."""
        moved = self.text(machine_path)
        return Path(moved) if os.path.isabs(moved) else self.root / moved

    def write(self, machine_path: str, content: str) -> Path:
        path = self.path(machine_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text(content))
        return path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("EMHUB_", "EMWORKER_", "XDG_", "PYTHON"))
               and k != "STATE_DIRECTORY"}
        return {**env, "HOME": str(self.root / "home"), "PY": sys.executable,
                "SITE": str(self.root / "site"), "PYTHONPATH": str(self.root / "site"),
                "COLUMNS": "200",
                # not part of any example: the floor on waits only makes runs slower here
                "EMWORKER_MIN_INTERVAL": "0"}

    def bash(self, lines: list[tuple[str, frozenset[int]]], timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
        """Run the lines in one bash, in the sandbox; each must end with one of its codes."""
        script = [PREAMBLE, f"cd {self.root}"]
        for line, codes in lines:
            moved = self.text(line)
            self.ran.append(moved)
            allowed = " ".join(str(c) for c in sorted(codes))
            script.append(f"{moved}\nrc=$?\ncase \" {allowed} \" in *\" $rc \"*) ;; "
                          f"*) echo \"EXAMPLE LINE FAILED (exit $rc, expected {allowed}): "
                          f"{_quote(moved)}\" >&2; exit 99;; esac")
        return subprocess.run(["bash", "-c", "\n".join(script)], env=self.env(),
                              capture_output=True, text=True, timeout=timeout,
                              cwd=self.root)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "'")
