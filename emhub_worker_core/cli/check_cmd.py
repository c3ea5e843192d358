"""``emworker check``: is this worker ready to run? Claims no task.

Checks, in order: the configuration (file and key named on error; unknown sections and
keys fail too, with the closest known name), every plugin (loaded, conflicts, disabled,
the keys of its ``[plugins.<name>]`` table) and every ``[plugins.<name>]`` table (a plugin
that is installed, keys it declares), the state folder (writable), EMhub
(reachable, TLS, credentials accepted, this worker's name registered). Prints one line per
check; the exit code is that of the most serious failure (3 configuration, 4 credentials
or name, 5 plugins, 1 anything else), 0 when all pass.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..contract.errors import ConfigError
from ..ops import exit_codes

if TYPE_CHECKING:
    from ..host.plugin_loader import PluginSet
    from ..ops.config import Config

SEVERITY = [exit_codes.CONFIG, exit_codes.AUTH, exit_codes.PLUGINS, exit_codes.ERROR]


class Check(NamedTuple):
    name: str
    ok: bool
    detail: str
    code: int = exit_codes.ERROR  # exit code when this check failed
    warning: bool = False


def add_parser(commands: Any) -> None:
    check = commands.add_parser("check", help="check configuration, plugins and EMhub; "
                                              "claims no task")
    check.add_argument("--no-emhub", action="store_true",
                       help="skip the EMhub checks (for a machine that only runs --local)")
    check.set_defaults(func=cmd_check)


def check_config(args: argparse.Namespace) -> tuple[Config | None, list[Check]]:
    from ..ops.config import load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return None, [Check("configuration", False, exit_codes.error_line(exc),
                            exit_codes.exit_code_for(exc))]
    if config.unknown:  # one verdict per file: no "ok" line before its failures
        return config, [Check("configuration", False, line, exit_codes.CONFIG)
                        for line in config.unknown]
    where = str(config.path) if config.path else "no file (defaults and environment)"
    return config, [Check("configuration", True, where)]


def check_plugins(config: Config) -> list[Check]:
    from ..host.plugin_loader import STATUS_DISABLED, STATUS_OK, load_plugins
    from ..host.plugin_tables import plugin_table_problems

    plugins, router = load_plugins(disabled=config.get("plugins", "disable") or [],
                                   pins=config.get("plugins", "pins") or {})
    checks = []
    for info in plugins.listing():
        label = f"plugin {info.name}"
        if info.status == STATUS_OK:
            checks.append(Check(label, True, f"{info.distribution} {info.version}: "
                                             f"{', '.join(info.tasks) or 'no tasks'}; "
                                             f"{settings_line(plugins, info.name)}"))
        elif info.status == STATUS_DISABLED:
            checks.append(Check(label, True, "disabled by configuration", warning=True))
        else:
            checks.append(Check(label, False, f"{info.status}: {info.error}",
                                exit_codes.PLUGINS))
    for key, plugin in router.unused_pins.items():
        checks.append(Check("plugin pins", False, f"{key} = {plugin}: no such claim",
                            exit_codes.CONFIG))
    checks += [Check("plugin settings", False, line, exit_codes.CONFIG)
               for line in plugin_table_problems(config, plugins)]
    if not plugins.infos:
        checks.append(Check("plugins", False, "no plugin installed: this worker can run "
                                              "no task", exit_codes.PLUGINS))
    return checks


def settings_line(plugins: PluginSet, name: str) -> str:
    """The keys of the plugin's ``[plugins.<name>]`` table, as the admin may write them."""
    declared = plugins.declared_settings(name)
    if declared is None:
        return f"[plugins.{name}] keys not declared"
    return f"[plugins.{name}] keys: {', '.join(sorted(declared)) or 'none'}"


def check_state_dir(config: Config) -> Check:
    import tempfile

    from ..ops.state_file import worker_state_dir

    directory = worker_state_dir(config)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".check-"):
            pass
    except OSError as exc:
        return Check("state folder", False, f"{directory}: not writable: {exc.strerror}")
    return Check("state folder", True, f"{directory} is writable")


def check_emhub(config: Config) -> list[Check]:
    section = config.section("emhub")
    if not section.get("url"):
        return [Check("EMhub", False, "no EMhub configured ([emhub] url or EMHUB_SERVER_URL)",
                      exit_codes.CONFIG)]
    from ..ops.state_file import worker_name
    from ..sources.emhub import probe  # the EMhub client, only when there is a server to ask

    name = worker_name(config)
    checks = []
    for label, ok, detail in probe(section, name):
        failed_code = exit_codes.AUTH if label in ("credentials", "worker name") \
            else exit_codes.ERROR
        checks.append(Check(f"EMhub {label}", ok, detail, failed_code))
    return checks


def guarded(step: str, fn: Callable[[], list[Check]]) -> list[Check]:
    """A check must report, not crash: its exception becomes a failed check, with the
    same line and exit code the command line would give it."""
    try:
        return fn()
    except Exception as exc:
        return [Check(step, False, exit_codes.error_line(exc), exit_codes.exit_code_for(exc))]


def cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from ..ops.logs import setup_logging

    setup_logging(args.log_level or "WARNING")
    config, checks = check_config(args)
    if config is not None:
        checks += guarded("plugins", lambda: check_plugins(config))
        checks.append(check_state_dir(config))
        if not args.no_emhub:
            checks += guarded("EMhub", lambda: check_emhub(config))
    console = Console(highlight=False, soft_wrap=True)
    for check in checks:
        mark = "[yellow]![/]" if check.ok and check.warning else \
            ("[green]ok[/]" if check.ok else "[red]FAIL[/]")
        console.print(f"{mark} {escape(check.name)}: ", end="")  # a name may hold "[...]"
        console.print(check.detail, markup=False)
    failed = [c for c in checks if not c.ok]
    if not failed:
        console.print("all checks passed")
        return exit_codes.OK
    console.print(f"{len(failed)} check(s) failed", markup=False)
    return min((c.code for c in failed), key=SEVERITY.index)
