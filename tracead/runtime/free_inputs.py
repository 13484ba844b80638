"""Per call: find the tensors a variant reads from outside, along their recorded paths.

The capture recorded, for each free input, the path the traced run reached it
by (`trace/sources.py`), and for each `.grad` that was None, its path too. A
call looks all of them up with one generated function, e.g.

    def resolve(L):
        try:
            t0 = K0.cell_contents
            t1 = K1['model'].layers[0].weight
            n0 = K1['model'].layers[0].weight._grad
        except Exception:
            return None
        if not (isinstance(t0, T) and t0._aval.shape == S0 and ...): return None
        ...
        if n0 is not None: return None
        return (t0, t1)

so the guard costs a few attribute and dict lookups, not a walk. A path that
breaks, yields something else than a tensor, or a tensor with another shape,
dtype or requires_grad means "this variant does not apply" (the call
retraces); `explain_failure` then names the path and what changed.
"""
from __future__ import annotations

import keyword

from ..tensor import Tensor
from ..trace.sources import Source
from .guards import describe_leaf_key, leaf_key


class FreeInputs:
    __slots__ = ("sources", "specs", "none_paths", "scalars", "resolve", "code")

    def __init__(self, sources: list[Source], specs: list[tuple], none_paths: list[Source],
                 scalars: list[tuple[Source, object]] = ()) -> None:
        self.sources = tuple(sources)
        self.specs = tuple(specs)  # per source: (shape, dtype, requires_grad)
        self.none_paths = tuple(none_paths)
        self.scalars = tuple((src, leaf_key(value)) for src, value in scalars)
        self.code, self.resolve = _generate(self.sources, self.specs, self.none_paths, self.scalars)

    def explain_failure(self, leaves) -> str:
        """Why `resolve(leaves)` returned None, in words (slow path, after a miss)."""
        for src, (shape, dtype, rg) in zip(self.sources, self.specs):
            where = src.describe()
            try:
                t = src.resolve(leaves)
            except Exception as exc:  # noqa: BLE001 - any failure of the lookup means "path broke"
                return f"the tensor read from outside at {where} is gone ({type(exc).__name__}: {exc})"
            if not isinstance(t, Tensor):
                return f"{where} was a tensor when traced, now {type(t).__name__}"
            for other in src.also:
                try:
                    same = other.resolve(leaves) is t
                except Exception:  # noqa: BLE001
                    same = False
                if not same:
                    return (f"{where} and {other.describe()} held the same tensor when traced, "
                            f"now they differ (which one does the function read?)")
            if t.shape != shape or t.dtype != dtype:
                return (f"the tensor read from outside at {where} changed from {dtype}{list(shape)} "
                        f"to {t.dtype}{list(t.shape)}")
            if t.requires_grad != rg:
                return f"requires_grad of the tensor read from outside at {where} changed to {t.requires_grad}"
        for src in self.none_paths:
            try:
                value = src.resolve(leaves)
            except Exception as exc:  # noqa: BLE001
                return f"{src.describe()} is gone ({type(exc).__name__}: {exc})"
            if value is not None:
                return f"{src.describe()} was None when traced, now a {list(value.shape)} tensor"
        for src, key in self.scalars:
            try:
                value = src.resolve(leaves)
            except Exception as exc:  # noqa: BLE001
                return f"{src.describe()} is gone ({type(exc).__name__}: {exc})"
            if leaf_key(value) != key:
                return f"{src.describe()} was {describe_leaf_key(key)} when traced, now {value!r}"
        return "a tensor read from outside the function changed"


def _expression(src: Source, consts: list) -> str:
    kind, value = src.root
    if kind == "arg":
        text = f"L[{int(value)}]"
    else:
        consts.append(value)
        text = f"K[{len(consts) - 1}]"
    for step in src.steps:
        if step[0] == "attr":
            name = step[1]
            if name.isidentifier() and not keyword.iskeyword(name):
                text += f".{name}"
            else:  # set with setattr: `box.class` would not parse
                text = f"getattr({text}, {name!r})"
        elif step[0] == "item":
            key = step[1]
            if type(key) in (str, int):
                text += f"[{key!r}]"
            else:
                consts.append(key)
                text += f"[K[{len(consts) - 1}]]"
        elif step[0] == "cell":
            text += ".cell_contents"
        else:
            text += "._grad"
    return text


def _generate(sources, specs, none_paths, scalars):
    consts: list = []
    lines = ["def resolve(L):", "    try:", "        pass"]
    agree = []
    for i, src in enumerate(sources):
        lines.append(f"        t{i} = {_expression(src, consts)}")
        for j, other in enumerate(src.also):
            lines.append(f"        a{i}_{j} = {_expression(other, consts)}")
            agree.append(f"a{i}_{j} is not t{i}")
    for i, src in enumerate(none_paths):
        lines.append(f"        n{i} = {_expression(src, consts)}")
    for i, (src, _) in enumerate(scalars):
        lines.append(f"        c{i} = {_expression(src, consts)}")
    lines += ["    except Exception:", "        return None"]
    if agree:
        lines += [f"    if {' or '.join(agree)}:", "        return None"]
    for i, (shape, dtype, rg) in enumerate(specs):
        consts.append(shape)
        s = len(consts) - 1
        consts.append(dtype)
        d = len(consts) - 1
        lines.append(f"    if not (isinstance(t{i}, T) and t{i}._aval.shape == K[{s}] "
                     f"and t{i}._aval.dtype == K[{d}] and t{i}.requires_grad == {bool(rg)}):")
        lines.append("        return None")
    for i in range(len(none_paths)):
        lines.append(f"    if n{i} is not None:")
        lines.append("        return None")
    for i, (_, key) in enumerate(scalars):
        consts.append(key)
        lines.append(f"    if KEY(c{i}) != K[{len(consts) - 1}]:")
        lines.append("        return None")
    lines.append("    return (" + "".join(f"t{i}, " for i in range(len(sources))) + ")")
    code = "\n".join(lines)
    namespace = {"K": tuple(consts), "T": Tensor, "KEY": leaf_key}
    exec(code, namespace)  # noqa: S102 - our own text, built from recorded paths
    return code, namespace["resolve"]
