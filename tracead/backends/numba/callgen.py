"""The predicted call of a fused kernel, as generated Python (backend stage: run).

`FusedStep.run` is general: it loops over tables of inputs and outputs. A
call whose layouts are the predicted ones needs none of that generality, so
`fast_call(step)` writes that call out as straight-line source, one line per
array, with every constant, view shape and slot number in the text (the
wrapper code torch.fx and Inductor generate around their kernels, for the
same reason). Its first lines test the layouts the prediction assumed; on any
difference it hands the whole step, before it wrote anything, to the general
`run`. The source is kept as `fn.source` and registered with linecache, so a
traceback through it shows the line.

It saves the table walk on every call (figures: benchmarks/NOTES.md).
"""
from __future__ import annotations

import linecache
import weakref

import numpy as np

from .steps import FLAT

_COUNT = [0]


def fast_call(step):
    """run(env) for `step` (a linked FusedStep with allocs and frees set)."""
    plan = step.fast
    scope = {"kernel": plan.fn, "np": np, "general": step.run_general}
    lines = [f"def run(env):  # kernel {step.kernel.index} [{step.kernel.kind}], entry {plan.entry.name}"]
    for slot in step.checks:
        lines.append(f"    if not env[{slot}].flags.c_contiguous:  # not the predicted layout")
        lines.append("        return general(env)")
    fresh = {}  # buffer slot -> allocation expression, for buffers first written here
    for i, alloc in enumerate(step.allocs):
        scope[f"d{i}"] = alloc.dtype
        fresh[alloc.slot] = f"np.empty({alloc.size}, d{i})"
    whole = {o.buf for o in plan.outs if o.cut is None}
    for slot, expr in fresh.items():
        if slot not in whole:
            lines.append(f"    env[{slot}] = {expr}  # planned buffer, first written here")
    call = [None] * len(plan.args)
    for pos, value in enumerate(plan.args):
        if value is not None:  # a constant, already viewed for the entry
            scope[f"c{pos}"] = value
            call[pos] = f"c{pos}"
    for i in plan.ins:
        call[i.pos] = f"env[{i.slot}]" if i.view is None else f"env[{i.slot}].reshape({i.view!r})"
    for o in plan.outs:
        pos = o.pos
        if o.cut is None and o.buf in fresh:
            lines.append(f"    o{pos} = env[{o.buf}] = {fresh.pop(o.buf)}  # planned buffer, first written here")
        else:
            lines.append(f"    o{pos} = " + (f"env[{o.buf}]" if o.cut is None else f"env[{o.buf}][:{o.cut}]"))
        value = f"o{pos}" if o.shape is None else f"o{pos}.reshape({o.shape!r})"
        if o.view is FLAT:
            lines.append(f"    env[{o.slot}] = {value}")
            call[pos] = f"o{pos}"
        else:
            lines.append(f"    v{pos} = env[{o.slot}] = {value}")
            call[pos] = f"v{pos}" if o.view is None else f"v{pos}.reshape({o.view!r})"
    lines.append(f"    kernel({', '.join(call)})")
    lines += [f"    env[{slot}] = None" for slot in step.frees]
    source = "\n".join(lines) + "\n"
    _COUNT[0] += 1
    filename = f"<tracead call {_COUNT[0]}: kernel {step.kernel.index}>"
    exec(compile(source, filename, "exec"), scope)  # noqa: S102 - our own text
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    run = scope["run"]
    run.source = source
    weakref.finalize(run, linecache.cache.pop, filename, None).atexit = False  # gone with its function
    return run
