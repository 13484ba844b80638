"""The package's import structure: one-way layers, no cycles, lazy imports only for optional deps.

Reads every module under `tracead/` with `ast` (no import needed) and checks
that module-level imports only point down `LAYERS` (or sideways within one
layer, without a cycle), and that the only imports inside functions are of
optional third-party packages or listed in `LAZY_ALLOWED` with the reason.
The same order is drawn in README.md ("How compile works").
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tracead as ta

PACKAGE = Path(ta.__file__).parent

# Bottom to top. A module may import its own layer and the ones before it.
# Entries are module names under `tracead.` (a package name covers its modules).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base: errors, config, mode state, the Prim type, shape rules",
     ("errors", "config", "state", "symint", "prim", "shapes",
      "trace.scalars",  # the stand-in for a traced float argument: tensor and lax lift it
      "trace.pytree",  # containers only (imports nothing): every layer walks argument trees
      "units")),
    ("tensor", ("tensor",)),
    ("tape and dispatch", ("tape", "dispatch")),
    ("primitive layer", ("lax",)),
    ("op rows", ("ops",)),
    ("autograd and the user layer",
     ("autograd", "basic_functions", "functional", "index_spec", "numpy_functions",
      "numpy_functions_more",
      "numpy_interop", "shape_functions", "padding", "indexing", "linalg", "shape_api",
      "creation", "math_functions", "reductions", "scans", "tensor_api", "norms",
      "torch_functions", "torch_selection", "torch_api")),
    ("ir and tracing", ("ir", "trace")),
    ("transforms", ("transforms",)),
    ("models", ("nn", "optim", "lr_scheduler")),
    ("compiler passes: Graph -> Graph rewrites", ("passes",)),
    ("planning: kernels, their order, buffers", ("plan",)),
    ("backends", ("backends",)),
    ("runtime", ("runtime",)),
    ("tools", ("tools", "distributed", "demo", "__main__")),
    ("the package", ("",)),  # tracead/__init__.py: the public face, imports everything
]

# Third-party packages imported inside functions on purpose: optional, or
# heavy and needed only on a path most imports never take.
OPTIONAL = {"networkx", "graphviz", "matplotlib", "ray", "sklearn", "tqdm", "numba", "llvmlite"}

# Function-level imports of tracead modules (or of stdlib) that remain, with why.
# Key: (file relative to the package, imported module as written).
LAZY_ALLOWED: dict[tuple[str, str], str] = {
    ("__main__.py", ".demo"): "the demo needs optional packages; load it only when run",
    ("backends/__init__.py", ".numba.backend"): "backend chosen at run time (numba is heavy)",
    ("backends/numba/cache.py", "..."): "reads tracead.__version__ (the package is the top layer)",
    ("backends/numba/cache_files.py", ".cache"): "cache <-> cache_files cycle; backend area",
    ("backends/numba/compile_workers.py", "."): "worker processes import lazily; backend area",
    ("backends/numba/compile_workers.py", ".steps"): "worker processes import lazily; backend area",
    ("backends/numba/scalar.py", "."): "mathlib/reduce_steps are numba-jitted; loaded on demand",
    ("backends/numba/steps.py", ".callgen"): "callgen reads steps' FLAT: steps <-> callgen cycle",
    ("backends/numba/threads.py", "threadpoolctl"): "optional dependency (TRACEAD_BLAS_THREADS only)",
    ("ir/export.py", "networkx"): "optional dependency",
    ("trace/__init__.py", "..basic_functions"): "trace.pytree/scalars are base-layer modules: importing them runs this file first",
    ("trace/__init__.py", "..torch_functions"): "trace.pytree/scalars are base-layer modules: importing them runs this file first",
    ("runtime/bisect.py", "..plan.schedule"): "check mode only; could be module-level (no cycle)",
    ("runtime/check.py", ".gradcheck"): "check mode only; could be module-level (no cycle)",
    ("runtime/check.py", "..trace.backward"): "check mode only; could be module-level (no cycle)",
    ("runtime/gradcheck.py", ".."): "reads tracead.transforms; could be module-level (no cycle)",
    ("runtime/gradcheck.py", ".compiled"):
        "compiled -> check -> gradcheck -> compiled would be a cycle: pass the type in instead",
    ("runtime/variant.py", ".ledger"): "runtime area (compile-speed work)",
    ("trace/scalars.py", "..functional"):
        "a traced float lifted to another dtype needs the cast op, above the base layer",
    ("trace/scalars.py", ".."): "the float's arithmetic records ops of the user layer (above base)",
    ("trace/scalars.py", "..tensor"): "the float's tensor form (tensor sits above the base layer)",
    ("tools/explain.py", ".explain_text"): "text views loaded when printed",
    ("tools/explain.py", ".pictures"): "pictures need optional graphviz/matplotlib",
    ("tools/explain.py", "..ir.export"): "networkx export (optional dependency)",
    ("tools/explain.py", ".report_html"): "HTML report loaded when written",
    ("tools/explain.py", "..trace.backward"): "only for explain(backward=True)",
    ("tools/explain_text.py", "linecache"): "stdlib; tools area",
    ("tools/pictures.py", "..ir.export"): "networkx export (optional dependency)",
    ("tools/profile.py", ".bandwidth"): "measures with numba on demand",
    ("tools/report_html.py", ".pictures"): "pictures need optional graphviz/matplotlib",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_package(name: str) -> bool:
    return (PACKAGE / name.replace(".", "/") / "__init__.py").exists()


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The tracead modules (names under `tracead.`) an ImportFrom loads."""
    if node.level:
        base = importer.split(".") if importer else []
        if not is_package:
            base = base[:-1]
        base = base[:len(base) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    elif node.module == "tracead" or (node.module or "").startswith("tracead."):
        module = node.module[len("tracead."):] if node.module != "tracead" else ""
    else:
        return []
    out = []
    for alias in node.names:  # `from . import lax` loads tracead.lax, not just tracead
        sub = f"{module}.{alias.name}" if module else alias.name
        exists = (PACKAGE / (sub.replace(".", "/") + ".py")).exists() or _is_package(sub)
        out.append(sub if exists else module)
    return out


def _imports():
    """{module: set of tracead modules it imports at module level}, and the lazy imports."""
    graph: dict[str, set[str]] = {}
    lazy: list[tuple[str, int, str, list[str]]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        deps = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                written = "." * node.level + (node.module or "")
                targets = _resolve(name, path.name == "__init__.py", node)
            elif isinstance(node, ast.Import):
                written = ", ".join(a.name for a in node.names)
                targets = [a.name[len("tracead."):] for a in node.names
                           if a.name.startswith("tracead.")]
            else:
                continue
            if id(node) in top:
                deps.update(targets)
            else:
                lazy.append((str(path.relative_to(PACKAGE)), node.lineno, written, targets))
    return graph, lazy


def _layer_of(module: str) -> int:
    best, best_len = None, -1
    for index, (_, names) in enumerate(LAYERS):
        for prefix in names:
            matches = module == prefix or (prefix and module.startswith(prefix + "."))
            if matches and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best is None:
        raise AssertionError(f"tracead.{module} is in no layer: add it to LAYERS in "
                             f"tests/test_layers.py (and the README diagram)")
    return best


def test_module_level_imports_point_down_the_layers():
    graph, _ = _imports()
    wrong = []
    for module, deps in graph.items():
        mine = _layer_of(module)
        for dep in deps:
            if _layer_of(dep) > mine:
                wrong.append(f"tracead.{module} ({LAYERS[mine][0]}) imports tracead.{dep} "
                             f"({LAYERS[_layer_of(dep)][0]})")
    assert not wrong, "imports pointing up the layer order:\n" + "\n".join(sorted(wrong))


def test_module_level_imports_form_no_cycle():
    graph, _ = _imports()
    # A package's __init__ runs before any of its modules, so importing `a.b`
    # from outside `a` also imports `a`: count that edge too.
    def parents(module: str, dep: str) -> set[str]:
        parts = dep.split(".")
        return {p for p in (".".join(parts[:i]) for i in range(1, len(parts)))
                if not (module == p or module.startswith(p + "."))}

    edges = {m: set(d).union(*(parents(m, x) for x in d)) for m, d in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for dep in sorted(edges.get(module, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep):] + [module, dep])
                              if dep in stack else f"{module} -> {dep}")
            elif dep not in state:
                visit(dep, stack + [module])
        state[module] = 2

    for module in sorted(edges):
        if module and module not in state:  # the package itself imports everything
            visit(module, [])
    cycles = [c for c in cycles if not c.startswith(" -> ")]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_function_level_imports_are_only_optional_or_listed():
    _, lazy = _imports()
    unexplained = []
    for file, line, written, targets in lazy:
        top = written.lstrip(".").split(".")[0]
        if not targets and not written.startswith(".") and top in OPTIONAL:
            continue
        if (file, written) not in LAZY_ALLOWED:
            unexplained.append(f"tracead/{file}:{line}: import of {written}")
    assert not unexplained, (
        "imports inside functions (move them to module level, or list them in LAZY_ALLOWED "
        "with the reason):\n" + "\n".join(unexplained))


def test_lazy_allowlist_has_no_stale_entries():
    _, lazy = _imports()
    present = {(file, written) for file, _, written, _ in lazy}
    stale = sorted(set(LAZY_ALLOWED) - present)
    assert not stale, f"LAZY_ALLOWED entries no longer needed: {stale}"


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=PACKAGE.parent, timeout=120)


@pytest.mark.parametrize("module", ["tracead.ops", "tracead.lax", "tracead.autograd",
                                    "tracead.tensor", "tracead.prim", "tracead.trace.backward"])
def test_any_module_imports_first_in_a_fresh_interpreter(module):
    result = _fresh(f"import {module}; import tracead.ops as ops; "
                    f"assert 'add' in ops.PRIMS and 'matmul' in ops.PRIMS")
    assert result.returncode == 0, result.stderr


def test_the_primitive_layer_loads_without_the_op_rows_or_the_user_layer():
    """Walk the module-level graph from `tracead.lax`: it reaches only layers below it."""
    graph, _ = _imports()
    seen, todo = set(), ["lax"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    assert not {m for m in seen if m == "ops" or m.startswith("ops.") or m == "functional"}, seen


def test_vjp_rules_use_only_the_primitive_layer():
    """Op rows import nothing above the primitive layer (no `functional`), and no rule
    un-broadcasts by itself: the backward walk does it once."""
    graph, _ = _imports()
    lax_layer = _layer_of("lax")
    for path in sorted((PACKAGE / "ops").glob("*.py")):
        module = _module_name(path)
        above = [d for d in graph[module] if _layer_of(d) > lax_layer and not d.startswith("ops")]
        assert not above, f"tracead.{module} imports {above}"
        assert "sum_to" not in path.read_text(encoding="utf-8"), f"{path.name} calls sum_to"
    # Rules write `g * b`, `1 - out`, `x == 0`: those operators are primitive-layer functions.
    from tracead import lax

    for dunder, name in [("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"),
                         ("neg", "neg"), ("eq", "eq"), ("gt", "gt"), ("matmul", "matmul")]:
        assert getattr(ta.Tensor, f"__{dunder}__") is getattr(lax, name), dunder


def test_import_tracead_does_not_load_the_optional_plotting_packages():
    result = _fresh("import sys, tracead; "
                    "print(sorted(m for m in ('networkx', 'matplotlib', 'graphviz') "
                    "if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def test_public_face():
    """`__all__` lists the documented names, all present, none a submodule; nn and optim
    are reachable as attributes after `import tracead as ta`."""
    import types

    assert len(set(ta.__all__)) == len(ta.__all__)
    for name in ta.__all__:
        assert hasattr(ta, name), name
        assert not isinstance(getattr(ta, name), types.ModuleType), name
    assert isinstance(ta.nn, types.ModuleType) and hasattr(ta.nn, "Linear")
    assert isinstance(ta.optim, types.ModuleType) and hasattr(ta.optim, "Adam")
    result = _fresh("import tracead as ta; ta.nn.Linear; ta.optim.SGD; "
                    "ns = {}; exec('from tracead import *', ns); "
                    "assert 'nn' not in ns and 'Tensor' in ns and 'grad' in ns")
    assert result.returncode == 0, result.stderr


def test_every_name_the_package_imports_is_in_all():
    """A name `tracead/__init__.py` imports for users (not a submodule) must be listed in `__all__`
    (star-imported modules bring their own `__all__`, which the package's includes)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    imported = {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    public = {n for n in imported if not n.startswith("_") and n != "*" and not _is_package(n)
              and not (PACKAGE / f"{n}.py").exists()}
    assert not public - set(ta.__all__), f"add to __all__: {sorted(public - set(ta.__all__))}"


def test_every_primitive_has_its_function_in_the_primitive_layer():
    """One `tracead.lax` function per primitive: what rules (and batching rules) call."""
    from tracead import lax

    missing = [name for name in ta.PRIMS if not callable(getattr(lax, name, None))]
    assert not missing, f"add these to tracead/lax.py (one line each over bind): {missing}"
