"""The plugin contract: the hooks an emworker plugin may implement.

A plugin is any module (or object) named by an entry point in the ``emworker`` group::

    [project.entry-points.emworker]
    my-plugin = "my_package.plugin"

that implements hooks marked with :data:`hookimpl`::

    from emhub_worker_core import hookimpl

    @hookimpl
    def emworker_register_tasks(register):
        register("my-task", MyHandler)

Every hook is documented in ``docs/hooks.rst``; a test fails when one is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol, Sequence, Union

import pluggy

if TYPE_CHECKING:  # the handler module stays unimported until a task needs it
    from .handler import HandlerFactory

#: Name of the pluggy project and of the setuptools entry-point group.
PROJECT_NAME = "emworker"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Mark a plugin's hook implementations with this decorator.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterTask(Protocol):
    """The ``register`` callable handed to :func:`emworker_register_tasks`."""

    def __call__(self, task_name: str, handler_factory: Union[HandlerFactory, str], *,
                 action: Optional[str] = None, aliases: Sequence[str] = ()) -> None:
        """Claim ``task_name`` (and each alias) for ``handler_factory``.

        :param task_name: the task ``name`` EMhub sends (e.g. ``"frames-monitor"``).
        :param handler_factory: called with a
            :class:`~emhub_worker_core.contract.handler.TaskContext` in the task's own thread; it
            returns a :class:`~emhub_worker_core.contract.handler.TaskHandler` (usually the
            handler class itself). Or a string ``"package.module:Attribute"`` naming it:
            the module is imported only when a task is routed to it, so listing plugins
            stays quick (an import error then fails that task, with the error).
        :param action: claim only tasks whose ``args["action"]`` equals this value
            (e.g. ``"transfer"`` of EMhub's ``session`` tasks), leaving other actions
            of the same name to other plugins. ``None`` claims every action; anything
            but ``None`` or a non-empty string is an error (the plugin is set aside).
        :param aliases: more task names routed to the same handler with the same
            ``action`` (e.g. ``["frames"]``, the name stock EMhub uses). A list or tuple:
            a lone string (``aliases="frames"``) is an error, not six one-letter names.
        """


@hookspec
def emworker_register_tasks(register: RegisterTask) -> None:
    """Declare the task names this plugin handles.

    Fires once per plugin when the host builds its routing table: at start-up of
    ``emworker run`` and ``emworker check``, and for ``emworker plugins list``. It must
    be quick and must not touch the network or the disk: do that work in the handler's
    :meth:`~emhub_worker_core.contract.handler.TaskHandler.setup`.

    :param register: call it once per task name (see :class:`RegisterTask`). Two
        plugins registering the same name (and action) are a conflict: the name is not
        routed until the admin pins one plugin in the configuration.
    :return: nothing; the return value is ignored.
    """


@hookspec
def emworker_worker_specs() -> Optional[dict[str, Any]]:
    """Add facts to the ``specs`` the worker sends to EMhub in ``connect_worker``.

    Fires once per start-up of ``emworker run`` against EMhub, after the plugins are
    loaded and before the worker connects. Use it for what the plugin knows about the
    machine (e.g. a scheduler's version). Keep it quick. Each plugin's implementation is
    called on its own: an exception, or a return value that is not a dict, is logged and
    that plugin's contribution skipped, and ``emworker run`` goes on.

    :return: a dict merged into ``specs["plugin_specs"]`` (prefix your keys with your
        plugin's name: a key another plugin already set is skipped with a warning), or
        ``None`` to add nothing. Values that are not JSON are made JSON by the rules of
        event values (``docs/events.rst``).
    """


@hookspec
def emworker_plugin_settings() -> Optional[Mapping[str, str]]:
    """Declare the keys this plugin reads from its ``[plugins.<name>]`` table.

    Fires once per plugin when the plugins are loaded (``emworker run``, ``emworker
    check``, ``emworker plugins list``). The core then reports every other key of the
    table as a typo: a warning at start-up of ``emworker run``, a failure (exit 3) of
    ``emworker check`` naming the file and key. Derive the keys from the code that reads
    them, so the declaration cannot drift; import that code inside the hook, not at
    module level, to keep listing quick. Exceptions are reported and the table is then
    not checked.

    :return: setting key -> a one-line description (shown by ``emworker check``), or
        ``None`` to declare nothing (the table is then not checked).
    """


__all__ = ["PROJECT_NAME", "RegisterTask", "emworker_plugin_settings", "emworker_register_tasks",
           "emworker_worker_specs", "hookimpl", "hookspec"]

