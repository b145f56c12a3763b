"""Name -> plugin registries with decorator registration, lazy built-ins and entry points.

Built-in plugins are listed as ``name -> "module:attribute"`` strings so that importing
the registry imports nothing heavy; third-party packages add plugins through an
entry-point group (e.g. ``harness.tasks``).
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from harness.errors import HarnessError, UnknownNameError

T = TypeVar("T")
log = logging.getLogger(__name__)


def did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


class Registry(Generic[T]):
    """A registry of plugins of one kind (tasks, scorers, sandboxes, backends)."""

    def __init__(self, kind: str, entry_point_group: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._lazy: dict[str, str] = dict(builtins)
        self._loaded: dict[str, T] = {}
        self._plugins: dict[str, str] = {}  # name -> the distribution that declared it
        self._entry_points_read = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@tasks.register("humaneval")``."""

        def decorate(obj: T) -> T:
            self._loaded[name] = obj
            return obj

        return decorate

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name in self._lazy:  # a built-in (or an earlier plugin) keeps its name
                log.debug("%s %r from entry point %s ignored", self.kind, ep.name, ep.value)
                continue
            self._lazy[ep.name] = ep.value
            self._plugins[ep.name] = ep.dist.name if ep.dist is not None else ep.value

    def names(self) -> list[str]:
        self._read_entry_points()
        return sorted(set(self._lazy) | set(self._loaded))

    def get(self, name: str) -> T:
        if name in self._loaded:
            return self._loaded[name]
        self._read_entry_points()
        target = self._lazy.get(name)
        if target is None:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}"
                f" (known: {', '.join(self.names())})"
            )
        module_name, _, attribute = target.partition(":")
        if name not in self._plugins:
            obj: T = getattr(importlib.import_module(module_name), attribute)
        else:
            try:
                obj = getattr(importlib.import_module(module_name), attribute)
            except (ImportError, AttributeError) as exc:
                raise HarnessError(
                    f"{self.kind} {name!r} from the plugin {self._plugins[name]!r} cannot be "
                    f"loaded ({target}): {type(exc).__name__}: {exc}"
                ) from exc
        self._loaded[name] = obj
        return obj
