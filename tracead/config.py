"""Environment flags, read when used so tests can change them.

TRACEAD_DISABLE=1   every compiled function runs eagerly
TRACEAD_DEBUG=N     1 logs compiles, 2 prints the graph after each pass,
                    3 prints generated kernel source
TRACEAD_MAX_VARIANTS  default variant limit per compiled function (8)
TRACEAD_CACHE_DIR   where the on-disk kernel cache lives
TRACEAD_CHECK=1|grad  check mode for every compiled function (runtime/check.py);
                    TRACEAD_CHECK_CALLS=N checks N calls per variant (default 3)
"""
from __future__ import annotations

import os
import sys


def disabled() -> bool:
    return os.environ.get("TRACEAD_DISABLE", "") not in ("", "0")


def debug_level() -> int:
    try:
        return int(os.environ.get("TRACEAD_DEBUG", "0"))
    except ValueError:
        return 0


def debug_log(level: int, message: str) -> None:
    if debug_level() >= level:
        print(message, file=sys.stderr)


def max_variants() -> int:
    return int(os.environ.get("TRACEAD_MAX_VARIANTS", "8"))


def cache_dir() -> str:
    default = os.path.join(os.path.expanduser("~"), ".cache", "tracead")
    return os.environ.get("TRACEAD_CACHE_DIR", default)
