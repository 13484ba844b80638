"""The user guide builds in strict mode, and every public name has a docstring."""
from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tracead as ta
from tracead.tools.fusion_report import REASONS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Data, not callables: documented in docs/api.md's "Constants" section.
DATA_NAMES = {"PRIMS", "float32", "float64"}


def test_docs_build_strict(tmp_path):
    """mkdocs --strict fails on broken links, missing anchors and unresolvable API names."""
    pytest.importorskip("mkdocstrings", reason="the docs tools are in the 'test' extra")
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    api = (tmp_path / "site" / "api.html").read_text()
    for name in ("tracead.compile", "tracead.explain", "tracead.Tensor", "tracead.add", "tracead.softmax"):
        assert f'id="{name}"' in api, name


def _public_callables():
    for name in ta.__all__:
        if name not in DATA_NAMES:
            yield name, getattr(ta, name)
    for cls in (ta.Tensor, ta.CompiledFunction):
        for name, member in vars(cls).items():
            if not name.startswith("_") and (callable(member) or isinstance(member, property)):
                yield f"{cls.__name__}.{name}", member


def test_every_public_name_has_a_docstring():
    missing = [name for name, obj in _public_callables() if not (getattr(obj, "__doc__", None) or "").strip()]
    assert not missing, f"public names without a docstring: {missing}"
    assert set(ta.__all__) >= {"compile", "explain", "profile", "grad", "Tensor"}
    assert not [n for n in ta.__all__ if inspect.ismodule(getattr(ta, n))], "submodules are not API"


def test_compile_lists_its_options():
    doc = ta.compile.__doc__
    for option in ("backend", "max_variants", "backward", "passes", "disable", "parallel_threshold", "jit"):
        assert f"`{option}" in doc, option


def test_api_page_covers_all_public_names():
    api = (DOCS / "api.md").read_text()
    for name in ta.__all__:
        assert f"tracead.{name}" in api, f"docs/api.md does not mention tracead.{name}"


def test_every_primitive_is_in_the_ops_page():
    ops = (DOCS / "ops.md").read_text()
    missing = [name for name in ta.PRIMS if f"`{name}`" not in ops]
    assert not missing, f"add these primitives to docs/ops.md: {missing}"


def test_every_fusion_reason_code_is_documented():
    text = (DOCS / "debugging.md").read_text()
    for code, meaning in REASONS.items():
        assert f"| `{code}` | {meaning} |" in text, code


def test_no_citation_of_files_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    pattern = "SPEC" + ".md"  # split, so this file does not cite it either
    hits = [p for p in tracked if (ROOT / p).is_file() and p.endswith((".py", ".md", ".toml", ".yml"))
            and pattern in (ROOT / p).read_text(errors="ignore")]
    assert not hits, hits


def test_readme_keeps_its_two_commands_on_top_and_links_the_guide():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert readme.index("```bash") < 40
    assert block[0].endswith("python -m tracead demo   # the main job")
    assert block[1].endswith("python -m pytest -n 2 --dist loadfile   # the tests")
    assert "docs/" in readme
