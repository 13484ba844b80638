"""The pass pipeline: with TRACEAD_DEBUG>=1 the graph is verified after every pass (a
pass that breaks the IR is named in the error, not found later in a backend), and
passes/ holds only the pipeline's rewrites."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tracead as ta
from tracead.ir import Graph, GraphError
from tracead import passes
from tracead.passes import run_pipeline


def reverse_nodes(graph: Graph) -> Graph:
    """A broken rewrite: nodes out of dependency order."""
    return Graph(graph.inputs, tuple(reversed(graph.nodes)), graph.outputs, graph.constants)


def _fn(x):
    return ta.exp(x * 2.0) + 1.0


def test_debug_level_one_verifies_after_each_pass_and_names_the_broken_one(monkeypatch):
    monkeypatch.setenv("TRACEAD_DEBUG", "1")
    f = ta.compile(_fn, passes=["fold", reverse_nodes, "dce"])
    with pytest.raises(GraphError, match=r"after pass 'reverse_nodes'.*before it is defined"):
        f(np.ones(3))


def test_without_debug_the_pipeline_does_not_verify(monkeypatch):
    monkeypatch.setenv("TRACEAD_DEBUG", "0")
    graph = ta.make_graph(_fn)(np.ones(3))
    broken, _ = run_pipeline(graph, passes=[reverse_nodes])  # the check costs time: debug only
    assert broken.nodes[0] is graph.nodes[-1]
    with pytest.raises(GraphError, match="after pass 'reverse_nodes'"):
        run_pipeline(graph, passes=[reverse_nodes], verify=True)


def test_correct_passes_verify_cleanly_at_debug_level_one(monkeypatch):
    monkeypatch.setenv("TRACEAD_DEBUG", "1")
    f = ta.compile(_fn)
    x = np.linspace(-1.0, 1.0, 5)
    f(x)
    out = f(x)
    assert f.stats["hits"] >= 1
    np.testing.assert_allclose(out.numpy(), np.exp(x * 2.0) + 1.0, rtol=1e-14)


def test_the_passes_folder_is_the_pipeline():
    """passes/ holds Graph -> Graph rewrites only (planning lives in plan/): every module
    is a pass of PIPELINE, the unalias step run after them, or simplify's rule tables."""
    folder = Path(passes.__file__).parent
    modules = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    helpers = {"alias", "rules", "rules_forms", "rules_movement"}
    assert modules == set(passes.PIPELINE) | helpers
    assert set(passes.PASSES) == set(passes.PIPELINE)
