"""The dependency closure that assembles a program from several sources of top-level
statements (``harness.code_units``): the blocks of a chat answer and the task's prompt.

A needed name is looked up source by source in priority order; every unit of the first source
that binds it is kept (later ones rebind it, as at run time) and what those units read is
needed in turn. Statements that change kept module-level data in place are kept too.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.code_units import Kind, Unit, module_effect_allowed

_BUILTINS = frozenset(dir(builtins))


@dataclass
class Source:
    """Code the program may be assembled from: one block of the answer, or the prompt."""

    units: list[Unit]
    origin: str  # "answer", "block" (another block of the answer), "prompt"
    position: int  # order in the output (prompt first, then the answer's order)
    keep_imports: bool = False
    kept: set[int] = field(default_factory=set)
    _index: dict[str, list[int]] | None = None

    def definers(self, name: str) -> list[int]:
        """The units that bind ``name``: all of them (later ones rebind, as at run time),
        except ones salvaged from damaged code when there are others."""
        if self._index is None:
            self._index = {}
            for i, unit in enumerate(self.units):
                if unit.kind in (Kind.IMPORT, Kind.DEF, Kind.ASSIGN, Kind.COMPOUND) \
                        and not (unit.unsafe and unit.kind is Kind.ASSIGN):
                    for defined in unit.defines:
                        self._index.setdefault(defined, []).append(i)
        hits = self._index.get(name, [])
        whole = [i for i in hits if not self.units[i].partial]
        return whole or hits




def close(sources: Sequence[Source], roots: Iterable[str], entry: str | None) -> None:
    """Mark in each source the units the roots need, transitively."""
    for source in sources:
        if source.keep_imports:
            source.kept |= {i for i, u in enumerate(source.units)
                            if u.kind in (Kind.IMPORT, Kind.FUTURE)}
    resolved: set[str] = set()
    unresolved: set[str] = set()
    work = list(roots)
    for _ in range(100):
        while work:
            name = work.pop()
            if name in resolved:
                continue
            resolved.add(name)
            for source in sources:
                hits = source.definers(name)
                if hits:
                    for i in hits:
                        if i not in source.kept:
                            source.kept.add(i)
                            work.extend(source.units[i].needs)
                    break
            else:
                unresolved.add(name)
        if not _keep_effects(sources, entry, work):
            break
    missing = unresolved - _BUILTINS
    if missing:  # a star import may provide them
        for source in sources:
            stars = {i for i, u in enumerate(source.units) if u.star}
            if stars:
                source.kept |= stars
                break
    _drop_useless_imports(sources, resolved)


def _keep_effects(sources: Sequence[Source], entry: str | None, work: list[str]) -> bool:
    """Keep statements that change kept module-level data in place; True if any was added."""
    added = False
    for source in sources:
        if not source.kept:
            continue
        data = {n for i in source.kept if source.units[i].kind is not Kind.IMPORT
                for n in source.units[i].defines}
        for i, unit in enumerate(source.units):
            if i in source.kept or unit.unsafe or unit.kind not in (Kind.EFFECT, Kind.COMPOUND):
                continue
            if entry is not None and entry in unit.needs:
                continue
            module_effect = source.keep_imports and module_effect_allowed(unit.dotted)
            if unit.writes & data or module_effect:
                source.kept.add(i)
                work.extend(unit.needs)
                added = True
    return added


def _drop_useless_imports(sources: Sequence[Source], resolved: set[str]) -> None:
    """Imports that the kept code redefines (``from solution import f``) are dropped, and so
    are unused ones of modules outside the standard library, which the sandbox may lack."""
    defined = {n for s in sources for i in s.kept if s.units[i].kind is not Kind.IMPORT
               for n in s.units[i].defines}
    for source in sources:
        for i in list(source.kept):
            unit = source.units[i]
            if unit.kind is not Kind.IMPORT or unit.star:
                continue
            shadowed = bool(unit.defines) and unit.defines <= defined
            unused = not unit.defines & resolved
            if shadowed or (unused and not unit.modules <= sys.stdlib_module_names):
                source.kept.discard(i)


def render(sources: Sequence[Source], wrapper: str) -> str:
    """The kept units as one program: ``__future__`` imports, then every other import, then
    the rest. Sources go in order (the prompt first), except that the main block comes last:
    helpers it uses at module level (decorators, base classes) are defined before it."""
    futures: list[str] = []
    imports: list[str] = []
    parts: list[tuple[Kind, str]] = []
    for source in sorted(sources, key=lambda s: (s.origin == "answer", s.position)):
        for i in sorted(source.kept):
            unit = source.units[i]
            if unit.kind in (Kind.FUTURE, Kind.IMPORT):
                group = futures if unit.kind is Kind.FUTURE else imports
                if unit.text not in group:
                    group.append(unit.text)
            else:
                parts.append((unit.kind, unit.text))
    if wrapper:
        parts.append((Kind.DEF, wrapper.rstrip("\n")))
    head = "\n".join(futures + imports)
    out = [head] if head else []
    previous: Kind | None = Kind.IMPORT if head else None
    for kind, text in parts:
        if out:
            simple = {kind, previous} <= {Kind.IMPORT, Kind.ASSIGN}
            out.append("\n" if simple else "\n\n\n")
        out.append(text)
        previous = kind
    return "".join(out) + "\n" if out else ""


__all__ = ["Source", "close", "render"]
