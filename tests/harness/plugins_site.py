"""The echo plugin installed into a folder of its own, for worker subprocesses outside pytest.

The test venv does not install contrib/echo-plugin (pytest finds it through ``pythonpath``);
a worker subprocess needs a real installation so its entry point is found.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import REPO, pip_install_target


def echo_plugin_env(target: Path, home: Path) -> dict[str, str]:
    """Environment for ``emworker`` subprocesses that see the echo plugin and this tree's core;
    ``home`` keeps any user config file out."""
    pip_install_target(target, REPO / "contrib" / "echo-plugin")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMHUB_", "EMWORKER_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(target), str(REPO)])
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    return env
