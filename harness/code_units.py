"""Top-level statements of Python source as units: what each binds at module level and which
module-level names it reads, and the dependency closure over several sources that the chat
answer sanitizer (``harness.sanitize``) uses to keep what an entry point and its tests need.

The analysis is a plain ``ast`` scope walk (function, class, lambda and comprehension scopes),
iterative so that deeply nested expressions cannot exhaust the stack.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

# Top-level calls that make a statement test or I/O code, never part of a solution.
_IO_CALLS = frozenset({"input", "exit", "quit", "breakpoint", "help"})
_TEST_CALLS = _IO_CALLS | {"print", "pprint", "display"}
_TEST_MODULES = frozenset({"unittest", "doctest", "pytest", "timeit", "cProfile"})
# Module-level calls through an import that a solution may rely on (deep recursion, decimal
# precision, seeding); any other call through a module is dropped with the test code.
_MODULE_EFFECTS = ("sys.setrecursionlimit", "sys.set_int_max_str_digits", "random.seed",
                   "np.random.seed", "numpy.random.seed", "warnings.", "threading.stack_size",
                   "getcontext.", "decimal.getcontext.", "mp.", "mpmath.mp.",
                   "resource.setrlimit")
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


class Kind(Enum):
    FUTURE = "future"  # from __future__ import ...: must come first
    IMPORT = "import"
    DEF = "def"  # function or class definition
    ASSIGN = "assign"  # binds names: x = ..., x += ..., x: T = ...
    COMPOUND = "compound"  # if/try binding names (not the __main__ guard)
    EFFECT = "effect"  # changes module state in place: obj[k] = v, obj.add(v), loops
    OTHER = "other"  # calls, prints, asserts, __main__ blocks, expressions: test code


@dataclass(frozen=True)
class Unit:
    """One top-level statement: its source text as written and what it binds and reads."""

    text: str
    kind: Kind
    defines: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()  # module-level names it reads (free names)
    writes: frozenset[str] = frozenset()  # root names it changes in place (EFFECT, COMPOUND)
    dotted: frozenset[str] = frozenset()  # dotted paths of those changes: "sys.setrecursionlimit"
    unsafe: bool = False  # reads input, prints, asserts, runs a test framework
    star: bool = False  # from m import *
    stub: bool = False  # a function whose body is only a docstring / pass / ... / raise
    methods: frozenset[str] = frozenset()  # a class's method names
    modules: frozenset[str] = frozenset()  # an import's top-level modules ("." relative)
    partial: bool = False  # salvaged from damaged code: may be cut short


@dataclass
class _Scope:
    kind: str  # "unit", "function" or "class"
    loads: set[str] = field(default_factory=set)
    stores: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)  # global / nonlocal
    children: list[_Scope] = field(default_factory=list)

    def child(self, kind: str) -> _Scope:
        scope = _Scope(kind)
        self.children.append(scope)
        return scope


def _bind_arguments(args: ast.arguments, scope: _Scope) -> None:
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            scope.stores.add(arg.arg)


def _argument_parts(args: ast.arguments) -> list[ast.AST]:
    """Defaults and annotations: evaluated in the scope that defines the function."""
    parts: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None and arg.annotation is not None:
            parts.append(arg.annotation)
    return parts


def _walk_scopes(roots: Iterable[ast.AST]) -> _Scope:
    top = _Scope("unit")
    stack: list[tuple[ast.AST, _Scope]] = [(node, top) for node in reversed(list(roots))]
    while stack:
        node, scope = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            scope.stores.add(node.name)
            outer = [*node.decorator_list, *_argument_parts(node.args)]
            if node.returns is not None:
                outer.append(node.returns)
            inner = scope.child("function")
            _bind_arguments(node.args, inner)
            stack.extend((n, inner) for n in reversed(node.body))
            stack.extend((n, scope) for n in outer)
        elif isinstance(node, ast.Lambda):
            inner = scope.child("function")
            _bind_arguments(node.args, inner)
            stack.append((node.body, inner))
            stack.extend((n, scope) for n in _argument_parts(node.args))
        elif isinstance(node, ast.ClassDef):
            scope.stores.add(node.name)
            inner = scope.child("class")
            stack.extend((n, inner) for n in reversed(node.body))
            stack.extend((n, scope) for n in [*node.decorator_list, *node.bases,
                                              *(k.value for k in node.keywords)])
        elif isinstance(node, _COMPREHENSIONS):
            inner = scope.child("function")
            stack.extend((n, inner) for n in ast.iter_child_nodes(node))
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                scope.loads.add(node.id)
            else:
                scope.stores.add(node.id)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            scope.declared.update(node.names)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            scope.stores.update(_import_names(node))
        else:
            if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
                scope.stores.add(node.name)
            elif isinstance(node, ast.MatchMapping) and node.rest:
                scope.stores.add(node.rest)
            stack.extend((n, scope) for n in ast.iter_child_nodes(node))
    return top


def _free_names(top: _Scope) -> set[str]:
    """Names the statement reads from the module scope (function locals excluded)."""
    order: list[_Scope] = []
    pending = [top]
    while pending:
        scope = pending.pop()
        order.append(scope)
        pending.extend(scope.children)
    free: dict[int, set[str]] = {}
    for scope in reversed(order):
        inner: set[str] = set()
        for child in scope.children:
            inner |= free[id(child)]
        local = scope.stores - scope.declared
        if scope.kind == "function":
            names = ((scope.loads | inner) - local) | scope.declared
        elif scope.kind == "class":  # class names are not visible inside its methods
            names = (scope.loads - local) | inner | scope.declared
        else:
            names = scope.loads | inner | scope.declared
        free[id(scope)] = names
    return free[id(top)]


def free_names_of_module(tree: ast.Module) -> set[str]:
    """Names a whole module reads but never binds (test code: what it needs from outside)."""
    top = _walk_scopes(tree.body)
    return _free_names(top) - (top.stores - top.declared)


def _import_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    names = []
    for alias in node.names:
        if alias.name == "*":
            continue
        names.append(alias.asname or alias.name.split(".")[0])
    return names


def _chain(node: ast.AST) -> tuple[str | None, str]:
    """Root name and dotted path of obj.a[k].b(...): ("obj", "obj.a.b")."""
    parts: list[str] = []
    for _ in range(1000):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript | ast.Starred):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            break
    if isinstance(node, ast.Name):
        return node.id, ".".join([node.id, *reversed(parts)])
    return None, ""


def _target_names(target: ast.AST, names: set[str], roots: set[str], dotted: set[str]) -> None:
    stack = [target]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Tuple | ast.List):
            stack.extend(node.elts)
        elif isinstance(node, ast.Starred):
            stack.append(node.value)
        else:
            root, path = _chain(node)
            if root is not None:
                roots.add(root)
                dotted.add(path)


def _walk_skipping_functions(roots: Sequence[ast.AST]) -> Iterable[ast.AST]:
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
                          | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))


def _effects(nodes: Sequence[ast.AST]) -> tuple[set[str], set[str], bool, bool]:
    """In-place changes (roots, dotted paths), and whether the code does I/O or tests."""
    roots: set[str] = set()
    dotted: set[str] = set()
    io = testing = False
    for node in _walk_skipping_functions(nodes):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                io |= node.func.id in _IO_CALLS
                testing |= node.func.id in _TEST_CALLS
            elif isinstance(node.func, ast.Attribute):
                root, path = _chain(node.func)
                if root is not None:
                    roots.add(root)
                    dotted.add(path)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                _target_names(target, roots, roots, dotted)
        elif isinstance(node, ast.Assert):
            testing = True
        elif isinstance(node, ast.Name):
            testing |= node.id in _TEST_MODULES
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            io |= node.value.id == "sys" and node.attr in {"stdin", "argv", "exit"}
    return roots, dotted, io, testing or io


def _is_main_guard(node: ast.If) -> bool:
    names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
    return "__name__" in names


def _is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for stmt in node.body:
        if isinstance(stmt, ast.Pass | ast.Raise):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring or ...
        return False
    return True


def _source(lines: Sequence[str], node: ast.stmt) -> str:
    """The statement's text as written (decorators included; offsets are UTF-8 bytes)."""
    start = node.lineno
    col = node.col_offset
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        start, col = min(d.lineno for d in decorators), 0
    end = node.end_lineno or node.lineno
    end_col = node.end_col_offset
    chunk = list(lines[start - 1:end])
    if not chunk:
        return ""
    last = chunk[-1].encode("utf-8")
    if end_col is not None:
        chunk[-1] = last[:end_col].decode("utf-8", "replace")
    first = chunk[0].encode("utf-8")
    chunk[0] = first[col:].decode("utf-8", "replace") if len(chunk) > 1 or end_col is None \
        else last[col:end_col].decode("utf-8", "replace")
    return "\n".join(chunk)


def units_of(tree: ast.Module, lines: Sequence[str]) -> list[Unit]:
    """The module's top-level statements as units, in order."""
    units = []
    for node in tree.body:
        text = _source(lines, node)
        scope = _walk_scopes([node])
        needs = frozenset(_free_names(scope))
        stores = scope.stores - scope.declared
        units.append(_unit(node, text, needs, stores))
    return units


def _unit(node: ast.stmt, text: str, needs: frozenset[str], stores: set[str]) -> Unit:
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return Unit(text, Kind.FUTURE)
    if isinstance(node, ast.Import | ast.ImportFrom):
        star = any(alias.name == "*" for alias in node.names)
        if isinstance(node, ast.Import):
            modules = frozenset(alias.name.split(".")[0] for alias in node.names)
        else:
            modules = frozenset({"." * node.level + (node.module or "").split(".")[0]})
        return Unit(text, Kind.IMPORT, frozenset(_import_names(node)), star=star,
                    modules=modules)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return Unit(text, Kind.DEF, frozenset({node.name}), needs, stub=_is_stub(node))
    if isinstance(node, ast.ClassDef):
        methods = frozenset(s.name for s in node.body
                            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef))
        return Unit(text, Kind.DEF, frozenset({node.name}), needs, methods=methods)
    roots, dotted, io, testing = _effects([node])
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        if isinstance(node, ast.AnnAssign) and node.value is None:
            return Unit(text, Kind.OTHER, needs=needs)
        names: set[str] = set()
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            _target_names(target, names, set(), set())
        if names:
            # Helpers defined with a lambda may print: only input/exit make it unusable.
            return Unit(text, Kind.ASSIGN, frozenset(names), needs, frozenset(roots),
                        frozenset(dotted), unsafe=io)
        return Unit(text, Kind.EFFECT, needs=needs, writes=frozenset(roots),
                    dotted=frozenset(dotted), unsafe=testing)
    if isinstance(node, ast.If) and _is_main_guard(node):
        return Unit(text, Kind.OTHER, needs=needs, unsafe=True)
    if isinstance(node, ast.If | ast.Try | ast.TryStar):
        return Unit(text, Kind.COMPOUND, frozenset(stores), needs, frozenset(roots | stores),
                    frozenset(dotted), unsafe=testing)
    if isinstance(node, ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith):
        return Unit(text, Kind.EFFECT, needs=needs - stores, writes=frozenset(roots | stores),
                    dotted=frozenset(dotted), unsafe=testing)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
            and isinstance(node.value.func, ast.Attribute):
        return Unit(text, Kind.EFFECT, needs=needs, writes=frozenset(roots),
                    dotted=frozenset(dotted), unsafe=testing)
    return Unit(text, Kind.OTHER, needs=needs, unsafe=True)


def module_effect_allowed(dotted: Iterable[str]) -> bool:
    return any(path.startswith(_MODULE_EFFECTS) for path in dotted)
