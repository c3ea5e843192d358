"""Handlers named by a string, ``"package.module:Attribute"``, imported on first use.

A plugin's ``plugin.py`` registers its handlers this way so that loading the plugin
(``emworker plugins list``, start-up) does not import the handler modules and what they
import; the first task routed to the handler pays for it, in its own thread, where an
import error becomes that task's error event.
"""

from __future__ import annotations

import importlib
import re
import threading
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from ..contract.handler import HandlerFactory, TaskContext, TaskHandler

_SPEC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class LazyFactory:
    """A handler factory that imports ``module:attribute`` the first time it is called."""

    def __init__(self, spec: str) -> None:
        if not _SPEC.match(spec):
            raise ValueError(f"handler {spec!r} must be a callable or a "
                             f"'package.module:Attribute' string")
        self.spec = spec
        self._target: HandlerFactory | None = None
        self._lock = threading.Lock()

    def load(self) -> HandlerFactory:
        """Import and return the named factory (once; later calls reuse it)."""
        with self._lock:
            if self._target is None:
                module_name, _, attribute = self.spec.partition(":")
                target: Any = importlib.import_module(module_name)
                for part in attribute.split("."):
                    target = getattr(target, part)
                if not callable(target):
                    raise TypeError(f"handler {self.spec} is not callable")
                self._target = target
            return self._target

    def __call__(self, context: TaskContext) -> TaskHandler:
        return self.load()(context)

    def __repr__(self) -> str:
        return f"LazyFactory({self.spec!r})"


def as_factory(handler: Union[HandlerFactory, str]) -> HandlerFactory:
    """What ``register()`` stores: a callable as given, a string as a :class:`LazyFactory`."""
    if isinstance(handler, str):
        return LazyFactory(handler)
    if not callable(handler):
        raise TypeError(f"handler {handler!r} is neither callable nor a "
                        f"'package.module:Attribute' string")
    return handler
