"""Where a compiled function found the tensors it read from outside ("sources").

A tensor read from outside the function (a model parameter, a closed-over or
global tensor, optimizer state) is not a fixed object: the program may rebind
the name or attribute it was reached through (`w = w - lr * g`,
`model.layer.weight = ta.tensor(...)`, `params["w"] = ...`). So the tracer
records *how* the function reached each such tensor, as a path from a stable
root (a closure cell, a globals dict, the function object, an argument) through
attribute, dict-key and index lookups, and every compiled call looks the
tensors up again along those paths (torch.compile's dynamo does the same with
its `LocalSource`/`GlobalSource`/`AttrSource`/`GetItemSource` guards).

Python does not tell us which path the traced run took, so we search: a
breadth-first walk from the function's closure cells and the globals its code
(and nested code) names, through instance `__dict__`s, dicts, lists and tuples,
bounded in depth and size. Public attributes are visited before private ones,
so `model.layer.weight` wins over `model._parameters["weight"]`. A tensor the
search cannot find is read by reference, as the object seen when tracing.

Python scalars the function reads are baked into the graph as constants, so
the plain scalars in its closure cells and in the globals its code names
(`lr`, `eps`, a flag), and in those of the functions reachable from there,
are guarded by value too (`scalar_sources`). Scalars reached through
attributes or items of outside objects (`cfg.lr` of a global `cfg`) are not:
they stay as traced (pass them as arguments, or keep them in tensors).
"""
from __future__ import annotations

import functools
import types
from collections import deque
from dataclasses import dataclass

from ..tensor import Tensor

MAX_DEPTH = 6  # lookups after the root
MAX_OBJECTS = 20_000  # objects visited per search
MAX_ITEMS = 1_000  # entries looked at per container
MAX_PATHS = 3  # paths recorded per tensor, from different roots
MAX_QUEUE = 200_000  # objects waiting to be visited

# Steps: ("attr", name) | ("item", key) | ("cell",) | ("grad",)
Step = tuple


@dataclass(frozen=True, slots=True)
class Source:
    """A root plus lookups. root is ("const", object) or ("arg", flat position).

    `also`: other paths from other roots that reached the same tensor when traced
    (a parameter in a closed-over list and in a global model). A call requires them
    to agree: if the program rebinds one but not the other, the search cannot tell
    which one the function reads, so it retraces."""

    root: tuple
    steps: tuple[Step, ...] = ()
    also: tuple["Source", ...] = ()

    def then(self, step: Step) -> "Source":
        return Source(self.root, self.steps + (step,))

    def origin(self) -> tuple:
        """Which root (and name in it) the path starts from."""
        kind, value = self.root
        return (kind, value if kind == "arg" else id(value), self.steps[:1])

    def resolve(self, leaves):
        """The object at the end of the path now (raises if the path broke)."""
        obj = leaves[self.root[1]] if self.root[0] == "arg" else self.root[1]
        for step in self.steps:
            kind = step[0]
            if kind == "attr":
                obj = getattr(obj, step[1])
            elif kind == "item":
                obj = obj[step[1]]
            elif kind == "cell":
                obj = obj.cell_contents
            else:
                obj = obj._grad
        return obj

    def describe(self) -> str:
        kind, value = self.root
        if kind == "arg":
            text = f"argument {value}"
        elif isinstance(value, types.CellType):
            text = "closure cell"
        elif isinstance(value, dict):
            text = f"globals of {value.get('__name__', '?')}"
        else:
            text = type(value).__name__
        for step in self.steps:
            if step[0] == "attr":
                text += f".{step[1]}"
            elif step[0] == "item":
                text += f"[{step[1]!r}]"
            elif step[0] == "grad":
                text += ".grad"
        return text

    @property
    def by_reference(self) -> bool:
        return self.root[0] == "const" and not self.steps and _is_tensor(self.root[1])


def by_reference(tensor) -> Source:
    return Source(("const", tensor))


def _is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


_OPAQUE = (str, bytes, int, float, complex, bool, type(None), type, types.ModuleType,
           types.BuiltinFunctionType, range, slice)


class SourceFinder:
    """Finds tensors from the roots of one traced call; one search, then lookups by id."""

    def __init__(self, fn, leaves) -> None:
        self.fn = fn
        self.leaves = leaves
        self.index: dict[int, list[Source]] | None = None  # id(tensor) -> paths, best first

    def find(self, tensor) -> Source:
        if self.index is None:
            self.index = self._search()
        paths = self.index.get(id(tensor))
        if not paths:
            return by_reference(tensor)
        first = paths[0]
        return Source(first.root, first.steps, tuple(paths[1:])) if len(paths) > 1 else first

    def _roots(self, visited_fns: set[int]) -> list[tuple[object, Source]]:
        roots: list[tuple[object, Source]] = []
        for i, leaf in enumerate(self.leaves):
            if not isinstance(leaf, _OPAQUE) and not _is_tensor(leaf):
                roots.append((leaf, Source(("arg", i))))
        roots += _function_roots(self.fn, visited_fns)
        return roots

    def _search(self) -> dict[int, list[Source]]:
        found: dict[int, list[Source]] = {}
        seen: set[int] = set()
        visited_fns: set[int] = set()
        queue = deque(self._roots(visited_fns))
        while queue and len(seen) < MAX_OBJECTS and len(queue) < MAX_QUEUE:
            obj, src = queue.popleft()
            if _is_tensor(obj):
                paths = found.setdefault(id(obj), [])
                if len(paths) < MAX_PATHS and all(p.origin() != src.origin() for p in paths):
                    paths.append(src)
                continue
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, (types.FunctionType, types.MethodType, functools.partial)):
                queue.extend(_function_roots(obj, visited_fns))
                continue
            if isinstance(obj, _OPAQUE) or len(src.steps) >= MAX_DEPTH:
                continue
            try:
                queue.extend(_children(obj, src))
            except Exception:  # noqa: BLE001 - an exotic object (a proxy): do not look inside
                pass
        return found


def _function_roots(fn, visited: set[int]) -> list[tuple[object, Source]]:
    """Stable roots of a callable: its closure cells, the globals its code names,
    the bound `self`; for other callables (a Module), the object itself."""
    if id(fn) in visited:
        return []
    visited.add(id(fn))
    if isinstance(fn, types.MethodType):
        return [(fn.__self__, Source(("const", fn.__self__)))] + _function_roots(fn.__func__, visited)
    if isinstance(fn, functools.partial):
        src = Source(("const", fn))
        out = [(a, src.then(("attr", "args")).then(("item", i))) for i, a in enumerate(fn.args)]
        out += [(v, src.then(("attr", "keywords")).then(("item", k))) for k, v in fn.keywords.items()]
        return out + _function_roots(fn.func, visited)
    if not isinstance(fn, types.FunctionType):
        roots = [(fn, Source(("const", fn)))]
        wrapped = getattr(fn, "__wrapped__", None)  # functools.wraps, a compiled function
        if isinstance(wrapped, types.FunctionType):
            roots += _function_roots(wrapped, visited)
        return roots
    roots: list[tuple[object, Source]] = []
    for i, value in enumerate(fn.__defaults__ or ()):  # `def f(x, w=w):`
        roots.append((value, Source(("const", fn), (("attr", "__defaults__"), ("item", i)))))
    for name, value in (fn.__kwdefaults__ or {}).items():
        roots.append((value, Source(("const", fn), (("attr", "__kwdefaults__"), ("item", name)))))
    for cell in fn.__closure__ or ():
        try:
            roots.append((cell.cell_contents, Source(("const", cell), (("cell",),))))
        except ValueError:  # an empty cell (a name assigned later)
            pass
    g = fn.__globals__
    if _is_library(g):
        return roots  # tracead's own module state is not the user's (its wrappers' cells are)
    for name in _global_names(fn.__code__):
        if name in g:
            roots.append((g[name], Source(("const", g), (("item", name),))))
    return roots


def _is_library(module_globals: dict) -> bool:
    name = module_globals.get("__name__", "")
    return name == "tracead" or name.startswith("tracead.")


def _global_names(code) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _global_names(const)
    return names


_KEY_TYPES = (str, int, float, bytes, tuple, frozenset, type(None))  # immutable: safe to keep


def _children(obj, src: Source):
    if isinstance(obj, dict):
        for i, (k, v) in enumerate(obj.items()):
            if i >= MAX_ITEMS:
                break
            if isinstance(k, _KEY_TYPES) and not isinstance(v, _OPAQUE):
                yield v, src.then(("item", k))
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj[:MAX_ITEMS]):
            if not isinstance(v, _OPAQUE):
                yield v, src.then(("item", i))
        return
    attrs = getattr(obj, "__dict__", None)
    if not isinstance(attrs, dict):
        return
    names = [k for k in attrs if isinstance(k, str)]
    names.sort(key=lambda k: k.startswith("_"))  # public attributes first (stable sort)
    for name in names[:MAX_ITEMS]:
        v = attrs[name]
        if not isinstance(v, _OPAQUE):
            yield v, src.then(("attr", name))


PLAIN_SCALARS = (bool, int, float, complex, str, bytes, type(None))
MAX_FUNCTIONS = 64


def scalar_sources(fn) -> list[tuple[Source, object]]:
    """(path, value) of each plain scalar in the closure cells and named globals of `fn`
    and of the functions reachable from them (not through other objects)."""
    out: list[tuple[Source, object]] = []
    visited: set[int] = set()
    pending = [fn]
    while pending and len(visited) < MAX_FUNCTIONS:
        fn = pending.pop()
        # tracead's own wrappers (grad, value_and_grad) close over fixed settings
        library = isinstance(fn, types.FunctionType) and _is_library(fn.__globals__)
        for value, src in _function_roots(fn, visited):
            if type(value) in PLAIN_SCALARS and not library:
                out.append((src, value))
            elif isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
                pending.append(value)
    return out
