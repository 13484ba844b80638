"""`ta.compile`: the function wrapper that traces, guards and dispatches.

A call computes its guard key (shapes, dtypes, requires_grad, scalars, grad
mode), looks the variants up by that key, and runs the first one whose value
guards hold. Otherwise it traces: the traced run is a real eager run, so its
result is returned, and the new variant serves the following calls. After
`max_variants` traces it warns once, naming the guard that keeps failing, and
runs eagerly from then on. Threads that miss at the same time compile one
after the other; each first looks again for a variant another thread built.

Every call is counted once in `stats`: a hit, a miss (a trace) or an eager call
(eager backend, TRACEAD_DISABLE, inside another trace, after giving up).

The eager modes call the function exactly as a traced call does (NumPy array
arguments become Tensors), so switching backends changes no types.
"""
from __future__ import annotations

import functools
import os
import threading
import warnings

from .. import config, state
from ..backends import get_backend
from ..trace import pytree
from ..trace.capture import capture, tensor_args
from ..trace.instantiate import SizeEscaped, instantiate
from .check import make_checker
from .dynamic import MAX_INSTANCES, DynamicVariant, all_dims, changed_dims, merge_dims, pattern_of
from .guards import (FLOAT_INPUT, call_key, describe_guards, describe_leaf_key, explain_mismatch,
                     object_guards, positional_key)
from .options import check_options, static_arguments
from .variant import MISS, Variant


def _disabled() -> bool:
    """config.disabled(), read on every call. `os.environ.get` encodes the key each
    time (an order of magnitude over a dict lookup: benchmarks/NOTES.md); on POSIX
    CPython keeps the encoded environment in `os.environ._data`, which
    `os.environ[...] = ...` (and monkeypatch.setenv) update, so read that directly."""
    data = getattr(os.environ, "_data", None)
    if data is None or os.name != "posix":
        return config.disabled()
    value = data.get(b"TRACEAD_DISABLE")
    return value is not None and value not in (b"", b"0")


class RecompileWarning(UserWarning):
    """A compiled function gave up compiling and now runs eagerly."""


class CompiledFunction:
    """A function wrapped by `ta.compile`: call it like the function itself.

    Each call picks a compiled variant whose guards hold (see `guards()`) or
    traces a new one; the first call of a variant returns the traced eager
    run's result. Introspection: `stats` ({"hits", "misses", "eager_calls"}),
    `recompile_reasons` (why each variant was traced), `order` (the variants),
    `guards()`, and `ta.explain(fn, *args)` / `ta.profile(fn, *args)`.
    """

    def __init__(self, fn, backend: str = "numba", **options) -> None:
        if hasattr(fn, "__name__"):
            functools.update_wrapper(self, fn)
        else:  # a callable object (an nn.Module instance): its attributes stay its own
            functools.update_wrapper(self, fn, updated=())
            self.__name__ = self.__qualname__ = type(fn).__name__
        check_options(options)
        self.fn = fn
        self.backend_name = backend
        self.options = options
        # Float arguments are graph inputs unless the function is always specialised.
        self.float_inputs = options.get("dynamic", None) is not False
        self.dynamic_mode = options.get("dynamic", None)  # None: automatic (runtime/dynamic.py)
        self.dynamic: list[DynamicVariant] = []
        self.dynamic_off = ""  # why shapes are specialised for good (the safety net fired)
        self.size_instances = 0  # variants instantiated from a dynamic one for new sizes
        self.static_argnums, self.static_argnames = static_arguments(
            fn, options.get("static_argnums"), options.get("static_argnames"))
        self.has_static = bool(self.static_argnums or self.static_argnames)
        self.max_variants = int(options.get("max_variants", config.max_variants()))
        self.variants: dict[tuple, list[Variant]] = {}
        self.order: list[Variant] = []
        self.lock = threading.RLock()
        self.gave_up = False
        self.stats = {"hits": 0, "misses": 0, "eager_calls": 0}
        self.recompile_reasons: list[str] = []
        self._backend = None
        self.snapshot = None  # set by explain/profile: notes the outside tensors a trace touches
        self.checker = make_checker(self, options)  # check mode (check.py), or None

    @property
    def backend(self):
        """The backend object that compiles this function's graphs (built on first use)."""
        if self._backend is None:
            self._backend = get_backend(self.backend_name, self.options)
        return self._backend

    def __call__(self, *args, **kwargs):
        st = state.STATE
        if self.gave_up or self.backend_name == "eager" or st.tracers or _disabled():
            # Inside another trace we inline: the outer graph records our ops.
            return self._eager(args, kwargs)
        key = None if kwargs or self.has_static else positional_key(args, st.grad_enabled,
                                                                      self.float_inputs)
        if key is None:
            leaves, treedef = pytree.flatten_args(args, kwargs)
            static = self._static_leaves(args, kwargs) if self.has_static else frozenset()
            key = call_key(leaves, treedef, st.grad_enabled, self.float_inputs, static)
        else:
            leaves = args  # positional leaves only: flattening changes nothing
        for variant in self.variants.get(key, ()):
            out = variant.run(leaves) if self.checker is None else self.checker.run(variant, leaves, args, kwargs)
            if out is not MISS:
                self.stats["hits"] += 1
                return out
        return self._recompile(args, kwargs, key, leaves)

    def _static_leaves(self, args, kwargs) -> frozenset:
        """Flat positions of the leaves of the arguments marked static."""
        static, start = set(), 0
        n_args = len(args)
        nums = {i + n_args if i < 0 else i for i in self.static_argnums}
        named = [(i in nums, a) for i, a in enumerate(args)]
        named += [(name in self.static_argnames, v) for name, v in kwargs.items()]
        for is_static, value in named:
            n = len(pytree.flatten_args((value,), {})[0])
            if is_static:
                static.update(range(start, start + n))
            start += n
        return frozenset(static)

    def _eager(self, args, kwargs):
        self.stats["eager_calls"] += 1
        call_args, call_kwargs, _, _ = tensor_args(args, kwargs)
        return self.fn(*call_args, **call_kwargs)

    def _reason(self, key) -> str:
        if not self.order:
            return "first call"
        same = self.variants.get(key)
        if same:
            return same[-1].last_failure or "a guard failed"
        return explain_mismatch(self.order[-1].key, key)

    def _recompile(self, args, kwargs, key, leaves):
        with self.lock:
            # Another thread may have compiled this variant while we waited for the lock.
            for variant in self.variants.get(key, ()):
                out = variant.run(leaves)
                if out is not MISS:
                    self.stats["hits"] += 1
                    return out
            if self.gave_up:
                return self._eager(args, kwargs)
            out = self._from_dynamic(key, leaves, args, kwargs) if self.dynamic else MISS
            if out is not MISS:
                return out
            reason = self._reason(key)
            if len(self.order) >= self.max_variants:
                self._give_up(reason)
                return self._eager(args, kwargs)
            self.stats["misses"] += 1
            self.recompile_reasons.append(reason)
            config.debug_log(1, f"tracead: compiling {self.__name__} ({reason})")
            dims = self._dynamic_dims(key)
            if dims:
                return self._trace_dynamic(args, kwargs, key, leaves, dims)
            cap = self._capture(args, kwargs, key)
            self._add_variant(cap, key, leaves)
            return cap.take_result()

    def _capture(self, args, kwargs, key, dims=None):
        scalar_inputs = frozenset(i for i, k in enumerate(key[2]) if k is FLOAT_INPUT)
        return capture(self.fn, args, kwargs, self.snapshot, scalar_inputs, dims)

    def _add_variant(self, cap, key, leaves, dynamic=None, counted=True) -> Variant:
        options = self.options
        if dynamic is not None and dynamic.variant is not None and dynamic.variant.backward_wanted:
            options = {**options, "backward": "eager"}  # the traced sizes needed a backward
        variant = Variant(cap, key, self.backend, options)
        variant.dynamic = dynamic
        variant.object_guards = object_guards(leaves, key[2])
        variant.build(key[1])
        if config.debug_level() >= 1:
            config.debug_log(1, f"tracead: {self.__name__} {variant.ledger}")
        self.variants.setdefault(key, []).append(variant)
        if counted:
            self.order.append(variant)
        return variant

    # -- dynamic shapes (runtime/dynamic.py) -----------------------------------------
    def _dynamic_dims(self, key) -> dict | None:
        """The dimensions the next trace makes symbolic, or None to specialise."""
        if self.dynamic_mode is False or self.dynamic_off:
            return None
        if self.dynamic_mode:
            dims = all_dims(key)
        else:
            dims = None
            for v in reversed(self.order):
                changed = changed_dims(v.key, key)
                if changed:
                    dims = merge_dims(v.dynamic.dims if v.dynamic else {}, changed)
                    break
        found = pattern_of(key, dims) if dims else None
        return dims if found and found[1] else None  # no size >= 2 among them: nothing to vary

    def _trace_dynamic(self, args, kwargs, key, leaves, dims):
        found = pattern_of(key, dims)
        cap = self._capture(args, kwargs, key, found[2])
        dv = DynamicVariant(cap, key, dims)
        why = None
        for v in reversed(self.order):  # a concrete trace at other sizes checks this one
            sizes = dv.holds_at(v.key)
            if sizes is not None:
                why = dv.verify(v.capture, sizes)
                dv.verified = why is None
                break
        concrete = instantiate(cap, dv.sizes, check=False)  # the traced sizes: plain values
        if why is not None:
            self._specialise(why)
            self._add_variant(concrete, key, leaves)
        else:
            dv.variant = self._add_variant(concrete, key, leaves, dv)
            self.dynamic.append(dv)
        return cap.take_result()

    def _specialise(self, why: str) -> None:
        self.dynamic_off = (f"shapes specialised: the dynamic trace is not the program at other "
                            f"sizes ({why})")
        self.dynamic.clear()
        self.recompile_reasons.append(self.dynamic_off)
        warnings.warn(f"tracead.compile({self.__name__}): {self.dynamic_off}", RecompileWarning,
                      stacklevel=5)

    def _from_dynamic(self, key, leaves, args, kwargs):
        """Run a call with new sizes on a dynamic variant, or MISS."""
        for dv in list(self.dynamic):
            sizes = dv.match(key)
            if sizes is None:
                continue
            remember = self.size_instances < MAX_INSTANCES
            if not dv.verified:  # trace once at these sizes and compare (the safety net)
                self.stats["misses"] += 1
                cap = self._capture(args, kwargs, key)
                why = dv.verify(cap, sizes)
                if why is not None:
                    self._specialise(why)
                    self._add_variant(cap, key, leaves)
                    return cap.take_result()
                dv.verified = True
                self.size_instances += 1
                self._add_variant(cap, key, leaves, dv, counted=False)
                return cap.take_result()
            try:
                instance = dv.instance_capture(sizes)
            except SizeEscaped as exc:
                self._specialise(str(exc))
                return MISS
            variant = self._add_variant(instance, key, leaves, dv, counted=False)
            if remember:
                self.size_instances += 1
            else:
                self.variants[key].remove(variant)
            out = variant.run(leaves) if self.checker is None else self.checker.run(variant, leaves, args, kwargs)
            if out is not MISS:
                self.stats["hits"] += 1
                return out
        return MISS

    def _give_up(self, reason: str) -> None:
        self.gave_up = True
        warnings.warn(
            f"tracead.compile({self.__name__}): {len(self.order)} variants compiled, the limit "
            f"(max_variants={self.max_variants}); running eagerly from now on. The guard that "
            f"keeps failing: {reason}", RecompileWarning, stacklevel=4)

    # -- introspection --------------------------------------------------------------
    def guards(self) -> list[str]:
        """The guards of the latest variant, readable."""
        if not self.order:
            return []
        v = self.order[-1]
        lines = describe_guards(v.key)
        if v.dynamic is not None:
            symbolic = tuple(f"argument {pos}:" for pos in v.dynamic.axes_symbols)
            lines = v.dynamic.describe(v.key) + [x for x in lines if not x.startswith(symbolic)]
        if self.dynamic_off:
            lines.append(self.dynamic_off)
        n_args = len(v.capture.arg_positions)
        for src, var, rg in zip(v.capture.free, v.capture.graph.inputs[n_args:],
                                v.capture.requires_grad[n_args:]):
            how = "by reference" if src.by_reference else f"at {src.describe()}"
            lines.append(f"tensor read from outside the function: {var.dtype.name}{list(var.shape)}"
                         + (" requires_grad" if rg else "") + f" ({how})")
        lines += [f"{src.describe()} == {describe_leaf_key(key)}" for src, key in v.plan.free.scalars]
        lines += [g.describe() for g in v.capture.value_guards]
        lines += [g.describe() for g in v.capture.grad_guards]
        return lines


def compile(fn=None, *, backend: str = "numba", **options):
    """Trace `fn` on its first call, optimise the graph and run it compiled from then on.

    Use as `@ta.compile` or `@ta.compile(backend="interpret", max_variants=4)`.
    Returns a `CompiledFunction`. Options:

    - `backend`: `"numba"` (default: fused Numba kernels), `"interpret"` (the
      optimised graph op by op in NumPy, the reference) or `"eager"` (the
      Python function as written).
    - `max_variants` (default 8, or `TRACEAD_MAX_VARIANTS`): after this many
      traces the function warns once (`RecompileWarning`) and runs eagerly.
    - `backward`: `"lazy"` (default: outputs only; the first `.backward()` on
      an output recomputes, later calls run a joint forward+backward graph) or
      `"eager"` (build the joint graph on the first call).
    - `passes`: the optimisation pipeline, a list of pass names or functions
      (default `("fold", "simplify", "cse", "dce")`); `disable`: names to drop.
    - `parallel_threshold` (numba): elements from which a kernel runs on
      several threads; `jit=False` (numba): run the generated Python without
      Numba, for stepping through it in pdb.
    - `compile_workers` (numba; default: cores - 1): worker processes that
      compile cold kernels in parallel, `0` keeps every compile in-process;
      `parallel_compile_threshold` (seconds, default 4): the estimated compile
      work below which no worker is started.
    - `dynamic`: `None` (default) or `True`: Python float arguments are
      graph inputs (0-d, weakly typed as in NumPy 2: with a float32 tensor the
      result stays float32), so a new learning rate runs the same kernels;
      a float Python itself uses (`if lr > 0.1:`, `math.exp(lr)`, a format, an
      op's static parameter) is guarded by value instead. `False`: always
      specialise (every float is part of the guard key, every shape too).
      Shapes: `None` is torch's "automatic dynamic": the first call
      specialises; a later call that misses only on sizes makes the
      dimensions that changed symbolic, and that variant serves every later
      size (instantiated per size, no retrace; instances do not count toward
      `max_variants`). `True`: every dimension of every array argument is
      symbolic from the first call. Sizes 0 and 1 stay specialised; a size
      Python compares is a size guard with your line; a size that escapes
      the symbolic tracking (`len(x)`, `int(n)`) is caught by a check
      against a trace at other sizes and the function specialises shapes
      instead (see docs/how-compile-works.md, "Dynamic shapes").
    - `static_argnums` / `static_argnames` (as in `jax.jit`): arguments
      (positions, negative from the end, or names; each completed from the
      other through the signature) whose values are part of the guard key,
      floats included: each new value traces a new variant.
    - `check=True` (or `TRACEAD_CHECK=1` for every compiled function): run the
      first `check_calls` (3) compiled calls of each variant beside the eager
      function, on copies of the arguments and of the state it reads and
      writes, and compare every output, write, `.grad` and (once the variant
      runs a compiled backward) gradient, NaN- and signed-zero-aware. A
      mismatch raises `CheckError` naming the first kernel (or pass) that
      diverges from the reference interpreter, its node and your source line.
      `check="grad"` also compares the compiled gradients w.r.t. the floating
      arguments with central finite differences on the given (small) inputs.
      The caller sees one compiled call; Python side effects of the function
      happen once more per checked call.

    Python ints and bools are always static (keyed by value); an unknown
    option is a TypeError.
    """
    if backend not in ("numba", "interpret", "eager"):
        raise ValueError(f"unknown backend {backend!r}; choose from 'numba', 'interpret', 'eager'")
    if fn is None:
        return lambda f: CompiledFunction(f, backend, **options)
    return CompiledFunction(fn, backend, **options)

