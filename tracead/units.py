"""How every report writes durations and sizes (explain, profile, the ledger, plans).

One formatter each, so the same quantity reads the same everywhere:
`0.93 ms`, `12.4 us`, `1.25 s`; `512 B`, `12.3 kB`, `4.20 MB` (decimal units,
never `0.00 MB` for something small).
"""
from __future__ import annotations


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


def bytes_text(n: int) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} MB"
    if n >= 1e3:
        return f"{n / 1e3:.1f} kB"
    return f"{n} B"
