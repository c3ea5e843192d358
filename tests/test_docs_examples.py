"""Every example of README.md, docs/ and the plugin and contrib READMEs runs as written.

Each code block (tests/doc_examples.py: file plus a hash of its text) has a plan in
:data:`PLANS`: command lines run in bash in a sandbox (tests/doc_sandbox.py: the machine's
paths moved into a folder of the test), configuration files checked by ``emworker check``,
tasks files run by ``emworker run --local``, Python executed (and its ``test_*`` functions
called), or, for what cannot run here, the reason (the kinds of plan and their runners:
tests/doc_runners.py). A command line that cannot run here
(systemctl, adduser, an install from an index) is refused by :data:`NOT_RUN_LINES`, each
with its reason. An example that is neither run nor listed fails
:func:`test_every_example_has_a_plan`; editing an example changes its id, so it fails
there too until its plan is looked at again. Examples against the real EMhub run in
:func:`test_example_against_the_real_emhub` (and the quick start's in
tests/test_quickstart_real.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.doc_examples import REPO, Example, all_examples
from tests.doc_runners import (
    NOT_RUN_LINES,
    REWRITES,
    VERDICTS,
    Config,
    Custom,
    Elsewhere,
    NotRun,
    PartOf,
    Plan,
    Python,
    Sample,
    Shell,
    Tasks,
    check_hosts_form,
    check_plugin_api_pin,
    command_lines,
    frames_event_keys,
    hello_plugin,
    run_config,
    run_hook_example,
    run_local_event_lines,
    run_python,
    run_sample,
    run_shell,
    run_tasks,
)
from tests.doc_sandbox import Sandbox

Q = "docs/quickstart-emhub.rst"
HELLO = "docs/writing-plugins.rst:3129706998"
QUICKSTART = "tests/test_quickstart_real.py::test_the_quick_start_runs_as_written"
ANY_VERDICT = (("emworker", VERDICTS),)
STATUS = (("emworker --config /etc/emworker/krios01.toml status", VERDICTS),)
PLUGIN_SAMPLE = "an output sample; parsed as JSON here, its fields are the plugin's tests'"
#: Every example, by id, and what the suite does with it.
PLANS: dict[str, Plan] = {
    "README.md:0b2824d5f2": Shell(),  # both lines are NOT_RUN_LINES
    "README.md:5d3aa109e6": Shell(setup="demo", output=("frames-monitor",)),
    "README.md:edc5eb9b2e": Shell(setup="readme", emhub=True,
                                  output=("ok EMhub worker name", "connected to EMhub")),
    "README.md:7e84b74c33": Tasks(),
    "contrib/echo-plugin/README.md:c9b6ae5e0c": Shell(output=("emworker-echo",)),
    "contrib/plugin-template/README.md:805fdf6eed": Shell(output=('"files": 4, "done": 1',)),
    "docs/api.rst:14401c90ff": Python(),
    "docs/architecture.rst:e85d4922da": NotRun("a diagram"),
    "docs/configuration.rst:ac20f5b81e": Config(),
    "docs/deployment.rst:825be1eb35": Shell(),  # every line is a NOT_RUN_LINES entry
    "docs/deployment.rst:66dffce065": Shell(),
    "docs/deployment.rst:4e884411d9": Shell(),
    "docs/deployment.rst:1c3a965075": Config(),
    "docs/deployment.rst:1b027fe456": Shell(),
    "docs/deployment.rst:71c0016e47": Shell(setup="deployment", emhub=True,
                                            output=("all checks passed",)),
    "docs/deployment.rst:73dd990aae": Shell(),
    "docs/deployment.rst:980bada5c3": Shell(setup="deployment", codes=STATUS),
    "docs/deployment.rst:5d988b0db7": Shell(setup="deployment", emhub=True,
                                            output=("all checks passed",)),
    "docs/getting-started.rst:0ec4641e09": Shell(),
    "docs/getting-started.rst:5f43ba6215": Shell(setup="getting-started"),
    "docs/getting-started.rst:7e84b74c33": Tasks(),
    "docs/getting-started.rst:bfe8aca904": Shell(output=('"name": "frames-monitor"',)),
    "docs/hooks.rst:28e12f4569": Custom(run_hook_example),
    "docs/hooks.rst:10e3722b73": Custom(run_hook_example),
    "docs/hooks.rst:c97951fbb5": Custom(run_hook_example),
    "docs/local-runs.rst:5f43ba6215": Shell(setup="local-runs"),
    "docs/local-runs.rst:beaf023865": Tasks(),
    "docs/local-runs.rst:70609d98f3": Custom(run_local_event_lines),
    "docs/local-runs.rst:fb31ca1e34": PartOf("docs/local-runs.rst:70609d98f3"),
    "docs/packaging.rst:4ce5d72b65": Shell(output=("frames-monitor",)),
    "docs/packaging.rst:6e034afb31": Elsewhere(
        "tests/test_wheelhouse.py::test_every_distribution_is_in_the_wheelhouse"),
    "docs/packaging.rst:0fa24cfd1b": Elsewhere(
        "tests/test_wheelhouse.py::test_one_plugin_alone_from_the_wheelhouse_into_a_fresh_venv"),
    "docs/packaging.rst:f666bb9841": Custom(check_plugin_api_pin),
    "docs/plugins.rst:8f28b3585e": Config(),
    "docs/quickstart-emhub.rst:1a05af5151": Custom(check_hosts_form),
    "docs/quickstart-emhub.rst:386257eb1c": Shell(),  # every line is a NOT_RUN_LINES entry
    "docs/quickstart-emhub.rst:2c2d3984fd": Config(),
    "docs/quickstart-emhub.rst:f94b2b71b9": Elsewhere(QUICKSTART),
    "docs/quickstart-emhub.rst:0c18fae187": Elsewhere(QUICKSTART),
    "docs/quickstart-emhub.rst:002e9bb82f": Elsewhere(QUICKSTART),
    "docs/status.rst:61d5e6de5a": Shell(setup="quickstart", codes=ANY_VERDICT),
    "docs/testing-kit.rst:6b6a6fe43c": Python(),
    "docs/testing-kit.rst:69ab682628": Python(),
    "docs/testing-kit.rst:da4a98c241": Python(),
    "docs/testing-kit.rst:358378ddb2": Python(),
    "docs/testing-kit.rst:8000f6a54f": Python(),
    "docs/api.rst:26ea8ff4a0": Python(),
    "docs/troubleshooting.rst:7ae42c1d00": Shell(setup="quickstart", emhub=True,
                                                 output=("all checks passed",)),
    "docs/writing-plugins.rst:3129706998": Custom(hello_plugin),
    "docs/writing-plugins.rst:8c5fcca1ac": PartOf(HELLO),
    "docs/writing-plugins.rst:ec4355822a": PartOf(HELLO),
    "docs/writing-plugins.rst:25e6e84e36": PartOf(HELLO),
    "docs/writing-plugins.rst:c62c46f263": PartOf(HELLO),
    "docs/writing-plugins.rst:c61a11f981": PartOf(HELLO),
    "plugins/cluster-lsf/README.md:7fcfcb0139": Config(),
    "plugins/cluster-lsf/README.md:7926aa82a9": Sample(),
    "plugins/cluster-lsf/README.md:93aed45ffb": Shell(),  # a NOT_RUN_LINES entry
    "plugins/cluster-slurm/README.md:07e142ad24": Sample(),
    "plugins/frames-monitor/README.md:6e03501ec1": Shell(output=(
        "frames-monitor  emworker-frames-monitor  0.1.0  frames, frames-monitor  ok",)),
    "plugins/frames-monitor/README.md:e2e9088325": Sample(frames_event_keys),
    "plugins/frames-monitor/README.md:850bfd3cb4": NotRun(
        "a benchmark of minutes that builds 200,000 files: run by hand (bench/)"),
    "plugins/frames-monitor/README.md:6dd12c0af9": NotRun("a benchmark's output"),
    "plugins/frames-monitor/README.md:efbc5a4fad": NotRun("a benchmark's output"),
    "plugins/session-otf/README.md:ad1f1cf54f": Config(),
    "plugins/session-transfer/README.md:eb31b0ad39": Tasks(  # its first step: a scan
        movies=("/data/frames/S1/FoilHole_1_fractions.tiff",), events=False,
        config=("plugins/session-transfer/README.md", "[plugins.session-transfer]")),
    "plugins/session-transfer/README.md:df2da92369": Config(),
    "plugins/session-transfer/README.md:67ac78dd1d": Shell(setup="transfer"),
    "plugins/session-transfer/README.md:c0ca8005fd": NotRun("a benchmark's output"),
    "plugins/session-transfer/README.md:31a174ce4d": NotRun("a benchmark's output"),
}


# -- the tests ---------------------------------------------------------------------------------

def _examples() -> list[Example]:
    return all_examples()


def test_every_example_has_a_plan() -> None:
    missing = [f"{e.id}  ({e.path}:{e.line}: {e.first_line[:50]})" for e in _examples()
               if e.id not in PLANS]
    stale = sorted(set(PLANS) - {e.id for e in _examples()})
    assert not missing and not stale, (
        "examples neither run nor listed (new, or edited: an id is file + hash of the "
        "text; `python -m tests.doc_examples` prints them all):\n" + "\n".join(missing) +
        "\nplans of examples that no longer exist (edited ones: look at the example "
        "again, then give its plan the new id):\n" + "\n".join(stale))


def test_every_command_line_is_run_or_listed() -> None:
    """A shell line that matches no NOT_RUN_LINES entry runs; one that matches is listed
    with its reason. This checks that the reasons are about what they refuse: every
    entry refuses at least one line of the docs."""
    lines = [line for e in _examples() if isinstance(PLANS.get(e.id), Shell)
             for line in command_lines(e.text)]
    for pattern, reason in NOT_RUN_LINES:
        assert any(re.match(pattern, line) for line in lines), f"unused: {pattern} ({reason})"
    for pattern, _rewrite, why in REWRITES:
        assert any(re.match(pattern, line) for line in lines), f"unused: {pattern} ({why})"


def test_the_tests_named_for_examples_exist() -> None:
    for plan in PLANS.values():
        if isinstance(plan, PartOf):
            assert isinstance(PLANS.get(plan.example), Custom), plan
        if isinstance(plan, Elsewhere):
            path, name = plan.test.split("::")
            assert f"\ndef {name}(" in (REPO / path).read_text(), plan.test


def _offline() -> Iterator[Any]:
    for ex in _examples():
        plan = PLANS.get(ex.id)
        if plan is not None and not isinstance(plan, (PartOf, Elsewhere, NotRun)) and \
                not (isinstance(plan, Shell) and plan.emhub):
            yield pytest.param(ex, plan, id=f"{ex.path}:{ex.line}")


def _against_emhub() -> Iterator[Any]:
    for ex in _examples():
        plan = PLANS.get(ex.id)
        if isinstance(plan, Shell) and plan.emhub:
            yield pytest.param(ex, plan, id=f"{ex.path}:{ex.line}")


def run_plan(plan: Plan, ex: Example, box: Sandbox) -> None:
    if isinstance(plan, Shell):
        run_shell(plan, ex, box)
    elif isinstance(plan, Config):
        run_config(ex, box)
    elif isinstance(plan, Tasks):
        run_tasks(plan, ex, box)
    elif isinstance(plan, Python):
        run_python(ex, box)
    elif isinstance(plan, Sample):
        run_sample(plan, ex, box)
    elif isinstance(plan, Custom):
        plan.run(ex, box)
    else:
        raise AssertionError(f"{plan} is not run here")


@pytest.mark.parametrize("ex, plan", list(_offline()))
def test_example(ex: Example, plan: Plan, tmp_path: Path) -> None:
    run_plan(plan, ex, Sandbox(tmp_path))


@pytest.mark.emhub
@pytest.mark.parametrize("ex, plan", list(_against_emhub()))
def test_example_against_the_real_emhub(ex: Example, plan: Plan, tmp_path: Path,
                                        emhub_server: Any) -> None:
    run_plan(plan, ex, Sandbox(tmp_path, emhub=emhub_server))
