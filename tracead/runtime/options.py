"""The options of `ta.compile`: which exist, their values, and static arguments.

An unknown keyword is a TypeError naming the valid ones (a misspelt option
silently ignored would compile something other than what was asked for).
Keep `OPTIONS` in sync with `compile`'s docstring (a test checks it).
"""
from __future__ import annotations

import inspect

OPTIONS = ("max_variants", "backward", "passes", "disable", "parallel_threshold", "jit",
           "compile_workers", "parallel_compile_threshold", "dynamic", "static_argnums",
           "static_argnames", "check", "check_calls")

def check_options(options: dict) -> None:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"compile() got unexpected option{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(map(repr, unknown))}; valid options: backend, "
                        f"{', '.join(OPTIONS)}")
    dynamic = options.get("dynamic")
    if not (dynamic is None or isinstance(dynamic, bool)):
        raise ValueError(f"compile(): dynamic={dynamic!r}; choose from None, True, False")
    if options.get("backward", "lazy") not in ("lazy", "eager"):
        raise ValueError(f"compile(): backward={options['backward']!r}; choose from 'lazy', 'eager'")


def _as_tuple(value, kind, what: str) -> tuple:
    if value is None:
        return ()
    if isinstance(value, kind):
        return (value,)
    value = tuple(value)
    if not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise TypeError(f"compile(): {what} must be {'an int' if kind is int else 'a str'} "
                        f"or a sequence of them, got {value!r}")
    return value


def static_arguments(fn, argnums, argnames) -> tuple[frozenset, frozenset]:
    """(positions, names) of the static arguments, each completed from the other through
    `fn`'s signature as in `jax.jit` (a static name passed positionally is still static)."""
    nums = set(_as_tuple(argnums, int, "static_argnums"))
    names = set(_as_tuple(argnames, str, "static_argnames"))
    if not (nums or names):
        return frozenset(), frozenset()
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin or an object without a signature
        return frozenset(nums), frozenset(names)
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for i, name in enumerate(positional):
        if name in names:
            nums.add(i)
        elif i in nums or i - len(positional) in nums:
            if params[i].kind is not params[i].POSITIONAL_ONLY:
                names.add(name)
    return frozenset(nums), frozenset(names)
