"""Library comments say why; measured timings and build history live in benchmarks/.

A comment or docstring under tracead/ quoting a duration (`~20 us`, `14.5 ms`,
`~2 s`), a speed ratio (`~4x faster`), a date or "used to take" goes stale the
day the code or the machine changes: the figure belongs in benchmarks/ (NOTES.md,
compile_curve.md) with how to measure it again, the comment keeps the reason.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import tracead as ta

PACKAGE = Path(ta.__file__).parent

TIMING = re.compile(r"\d(\.\d+)? ?(ms|µs|us|ns)\b|\d(\.\d+)? ?(x|×) (faster|slower)"
                    r"|~\d+(\.\d+)? ?(s|seconds)\b|\b\d+(\.\d+)? s per\b|\bused to take\b"
                    r"|\b20\d\d-\d\d-\d\d\b")

# Files whose comments still quote measurements, with who moves them to benchmarks/.
PENDING = {
    "units.py": "the formats it produces, not measurements (kept)",
}


def _comment_lines(path: Path):
    source = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            yield tok.start[0], tok.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                for i, line in enumerate(doc.splitlines()):
                    yield node.body[0].lineno + i, line


def _offenders() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        hits = [f"{line}: {text.strip()}" for line, text in _comment_lines(path) if TIMING.search(text)]
        if hits:
            found[path.relative_to(PACKAGE).as_posix()] = hits
    return found


def test_no_timings_or_build_history_in_library_comments():
    wrong = {f: hits for f, hits in _offenders().items() if f not in PENDING}
    listing = "\n".join(f"tracead/{f}:{h}" for f, hits in wrong.items() for h in hits)
    assert not wrong, f"measurements in library comments (figures to benchmarks/, keep the why):\n{listing}"


def test_pending_list_has_no_stale_entries():
    stale = sorted(set(PENDING) - set(_offenders()))
    assert not stale, f"no longer quote measurements: remove from PENDING: {stale}"
