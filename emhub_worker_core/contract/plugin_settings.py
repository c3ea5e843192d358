"""A plugin's settings, declared once: a frozen dataclass whose fields are :func:`setting`.

The field's annotation is the type, :func:`setting` gives the default, the description,
the bounds and whether a task argument may override it. The core reads
``[plugins.<name>]`` and the task's arguments by that one declaration, with the rules of
its own sections (``config.SECTIONS``: exact types, an int for a float, no bool for a
number, a minimum that NaN and infinity do not pass), and hands the handler the instance
(:meth:`TaskHandler.read_settings <emhub_worker_core.handler.TaskHandler.read_settings>`).
Unknown keys of the table are reported once, by the core, before any task runs
(``host.plugin_tables``); unknown task arguments are the handler's own (a task carries more than
settings).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import math
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, TypeVar, Union

from .errors import ConfigError, TaskError

#: The key of a dataclass field's metadata that holds its :class:`Setting` parts.
_META = "emworker.setting"
_NONE = type(None)

T = TypeVar("T")


@dataclass(frozen=True)
class _Parts:
    description: str
    minimum: Optional[float]
    above: Optional[float]
    maximum: Optional[float]
    task_arg: bool
    choices: tuple[Any, ...]
    convert: Optional[Callable[[Any], Any]]
    unit: str


def setting(default: Any, description: str, *, minimum: Optional[float] = None,
            above: Optional[float] = None, maximum: Optional[float] = None,
            task_arg: bool = False, choices: tuple[Any, ...] = (),
            convert: Optional[Callable[[Any], Any]] = None, unit: str = "") -> Any:
    """One declared setting, as a dataclass field.

    :param default: used when neither the table nor (if allowed) the task sets it; a
        list or dict default is copied for each instance.
    :param description: one line, shown by ``emworker check`` and ``plugins list --json``.
    :param minimum: numbers: the smallest value that can work (inclusive).
    :param above: numbers: the value must be greater than this (e.g. ``above=0``).
    :param maximum: numbers: the largest value that can work (inclusive).
    :param task_arg: a task argument of the same name overrides the table; otherwise a
        task naming it is refused (only the admin sets it).
    :param choices: the only values allowed.
    :param convert: called with the raw value before the type check (e.g. a string to a
        list); its ``ValueError``/``TypeError`` becomes the error naming the key.
    :param unit: numbers: what they count (``"seconds"``), for the messages and listings.
    """
    parts = _Parts(description, minimum, above, maximum, task_arg, tuple(choices), convert,
                   unit)
    metadata = {_META: parts}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Setting:
    """One key of a plugin's table, as the core reads, checks and shows it."""

    name: str
    #: accepted value types; ``()`` for an old-style declaration (name and text only)
    types: tuple[type, ...] = ()
    default: Any = None
    description: str = ""
    minimum: Optional[float] = None
    above: Optional[float] = None
    maximum: Optional[float] = None
    task_arg: bool = False
    choices: tuple[Any, ...] = ()
    optional: bool = False                 # ``None`` is a value (``Optional[...]``)
    items: Optional[type] = None           # a tuple's item type
    convert: Optional[Callable[[Any], Any]] = None
    unit: str = ""                         # what a number counts ("seconds")

    @property
    def type_name(self) -> str:
        """The type as ``check`` and ``plugins list --json`` show it (``number of seconds``)."""
        return self._words(_TYPE_NAMES, "list of {}", _PLURALS) if self.types else "any"

    @property
    def phrase(self) -> str:
        """The type in a sentence: ``must be <phrase>`` (``a number of seconds``)."""
        return self._words(_PHRASES, "a list of {}", _PLURALS)

    def _words(self, names_of: Mapping[type, str], list_form: str,
               items_of: Mapping[type, str]) -> str:
        if self.items is not None:
            names = [list_form.format(items_of.get(self.items, self.items.__name__))]
        else:
            names = [names_of.get(t, t.__name__) for t in self.types
                     if t is not int or float not in self.types]  # a float takes an int
            if self.unit and len(names) == 1 and self.types[-1] in (int, float):
                names = [f"{names[0]} of {self.unit}"]
        return " or ".join(names) + (" or none" if self.optional else "")

    @property
    def bounds(self) -> str:
        """``at least 1``, ``one of 'a', 'b'``...: what a value must also be ("" if nothing)."""
        parts = [f"{word} {value:g}" for word, value in (
            ("at least", self.minimum), ("more than", self.above), ("at most", self.maximum))
            if value is not None]
        if self.choices:
            parts.append("one of " + ", ".join(map(repr, self.choices)))
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        from .events import json_safe

        return {"name": self.name, "type": self.type_name, "default": json_safe(self.default),
                "description": self.description, "minimum": self.minimum,
                "above": self.above, "maximum": self.maximum, "unit": self.unit or None,
                "task_arg": self.task_arg,
                "choices": json_safe(list(self.choices)) if self.choices else None}


_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "true/false",
               dict: "table"}
_PHRASES = {str: "a string", int: "a whole number", float: "a number",
            bool: "true or false", dict: "a table"}
_PLURALS = {str: "strings", int: "whole numbers", float: "numbers"}


def declared(declaration: Any) -> dict[str, Setting]:
    """Every :class:`Setting` of a declaration: a dataclass of :func:`setting` fields, or
    (old style, still accepted) a mapping of key -> description. ``TypeError`` otherwise."""
    if isinstance(declaration, Mapping):
        if not all(isinstance(key, str) for key in declaration):
            raise TypeError("expected a mapping of setting names")
        return {key: Setting(key, description=str(text)) for key, text in declaration.items()}
    if not (isinstance(declaration, type) and dataclasses.is_dataclass(declaration)):
        raise TypeError(f"expected a dataclass of setting() fields or a mapping of setting "
                        f"names, got {type(declaration).__name__}")
    return dict(_of_dataclass(declaration))


@functools.lru_cache(maxsize=None)  # read once per class, not once per task
def _of_dataclass(declaration: type) -> dict[str, Setting]:
    hints = typing.get_type_hints(declaration)
    found = {}
    for item in dataclasses.fields(declaration):
        parts = item.metadata.get(_META)
        if parts is None:
            raise TypeError(f"{declaration.__name__}.{item.name}: not declared with setting()")
        default = item.default if item.default_factory is dataclasses.MISSING \
            else item.default_factory()
        types, optional, items = _runtime_types(hints[item.name], f"{declaration.__name__}."
                                                                  f"{item.name}")
        found[item.name] = Setting(item.name, types, default, parts.description, parts.minimum,
                                   parts.above, parts.maximum, parts.task_arg, parts.choices,
                                   optional, items, parts.convert, parts.unit)
    return found


def _runtime_types(hint: Any, where: str) -> tuple[tuple[type, ...], bool, Optional[type]]:
    """``(types, optional, tuple item type)`` of an annotation."""
    origin, members = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union:
        rest = [m for m in members if m is not _NONE]
        if len(rest) != 1:
            raise TypeError(f"{where}: only Optional[X] unions are settings")
        types, _, items = _runtime_types(rest[0], where)
        return types, True, items
    if hint is Any:
        return (), False, None
    if hint is float:
        return (int, float), False, None
    if hint in (str, int, bool):
        return (hint,), False, None
    if origin is tuple and len(members) == 2 and members[1] is Ellipsis:
        return (list, tuple), False, members[0]
    if hint is dict or origin in (dict, collections.abc.Mapping):
        return (dict,), False, None
    raise TypeError(f"{where}: {hint!r} is not a setting type (str, int, float, bool, "
                    f"tuple[str, ...], Mapping, or Optional of one)")


def parse_settings(declaration: type[T], config: Mapping[str, Any],
                   args: Optional[Mapping[str, Any]] = None, *, plugin: str = "plugin",
                   where: str = "") -> T:
    """The declaration's instance from the plugin's table and the task's arguments.

    Task argument over table over default, each checked by its :class:`Setting`. A bad
    table value is a :class:`ConfigError` naming ``plugins.<plugin>.<key>`` (after
    ``where``, e.g. the file); a bad task argument, or one for a setting only the admin
    sets, a :class:`TaskError` naming ``task arg '<key>'``. Keys the declaration does not
    name are left to the core's one report of unknown keys.
    """
    settings = declared(declaration)
    table = f"{where}: plugins.{plugin}" if where else f"plugins.{plugin}"
    values: dict[str, Any] = {}
    from_task = False
    for name, item in settings.items():
        if name in config:
            values[name] = check_value(item, config[name], f"{table}.{name}", ConfigError)
        if args is not None and args.get(name) is not None:
            if not item.task_arg:
                raise TaskError(f"task arg {name!r}: not a task setting; only the admin "
                                f"sets it, in [plugins.{plugin}]")
            values[name] = check_value(item, args[name], f"task arg {name!r}", TaskError)
            from_task = True
    try:
        return declaration(**values)
    except ValueError as exc:  # the declaration's own rule across settings (__post_init__)
        if from_task:
            raise TaskError(f"task args and [plugins.{plugin}]: {exc}") from None
        raise ConfigError(f"{table}: {exc}") from None


def check_value(item: Setting, value: Any, where: str,
                error: type[ConfigError] | type[TaskError]) -> Any:
    """One value, checked and made the declared type, or ``error`` naming ``where``."""
    if not item.types:
        return value  # an old-style declaration: no type to hold it to
    if value is None and item.optional:
        return None
    if item.convert is not None:
        try:
            value = item.convert(value)
        except (TypeError, ValueError) as exc:
            raise error(f"{where}: {exc}") from None
    if not isinstance(value, item.types) or (isinstance(value, bool) and bool not in item.types):
        raise error(f"{where}: must be {item.phrase}, got {value!r}")
    given = value  # messages show what was written (0, not 0.0)
    if isinstance(value, (list, tuple)) and item.items is not None:
        if not all(isinstance(v, item.items) for v in value):
            raise error(f"{where}: must be {item.phrase}, got {value!r}")
        value = tuple(value)
    elif isinstance(value, (int, float)) and float in item.types:
        value = float(value)
    elif isinstance(value, dict):
        value = dict(value)  # the instance's own, not the configuration's
    if item.choices and value not in item.choices:
        raise error(f"{where}: must be one of {', '.join(map(repr, item.choices))}, "
                    f"got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_bounds(item, value, given, where, error)
    return value


def _check_bounds(item: Setting, value: float, given: Any, where: str,
                  error: type[ConfigError] | type[TaskError]) -> None:
    bounded = item.minimum is not None or item.above is not None or item.maximum is not None
    if bounded and not math.isfinite(value):  # NaN passes every comparison: refuse it
        raise error(f"{where}: must be a finite number, got {given!r}")
    if item.minimum is not None and value < item.minimum:
        raise error(f"{where}: must be at least {item.minimum:g}, got {given!r}")
    if item.above is not None and value <= item.above:
        more = "positive" if item.above == 0 else f"more than {item.above:g}"
        raise error(f"{where}: must be {more}, got {given!r}")
    if item.maximum is not None and value > item.maximum:
        raise error(f"{where}: must be at most {item.maximum:g}, got {given!r}")


__all__ = ["Setting", "check_value", "declared", "parse_settings", "setting"]
