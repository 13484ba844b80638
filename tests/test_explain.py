"""explain, its fusion reason codes, memory view, pictures and HTML report; profile's verdict.

Figures are checked against independent counts (the graph's own nodes and
edges, the memory plan's live ranges, hand-computed break-even numbers), not
against another explain path.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

import tracead as ta
from tracead import demo, nn
from tracead.tools import pictures
from tracead.tools.fusion_report import REASONS, reason_code
from tracead.tools.profile import ProfileReport


# -- shared compiled reports (compiling is the slow part) ------------------------------
@pytest.fixture(scope="module")
def demo_report():
    """explain of the demo's training step (the same shapes as `python -m tracead demo`)."""
    X, y, _, _ = demo.load_data(0)
    model = nn.MLP(demo.SIZES, seed=0)
    step = ta.compile(demo.make_step(demo.make_optimizer(model)))
    xb, yb = X[:64], y[:64]
    step(model, xb, yb)
    step(model, xb, yb)
    misses = step.stats["misses"]
    report = ta.explain(step, model, xb, yb)
    assert step.stats["misses"] == misses  # explain described the existing variant
    return report, step


def _loss_fn(w):
    def loss(x, y):
        logp = ta.log_softmax(x @ w)
        return -logp[np.arange(len(y)), y].mean()
    return loss


@pytest.fixture(scope="module")
def joint_report():
    """A joint forward+backward build on the interpret backend (no Numba compile)."""
    w = ta.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    x = np.random.default_rng(1).standard_normal((5, 4))
    return ta.explain(ta.compile(_loss_fn(w), backend="interpret"), x, np.array([0, 1, 2, 1, 0]),
                      backward=True)


# -- the one-screen summary --------------------------------------------------------------
def test_demo_summary_fits_one_screen_and_answers_the_questions(demo_report):
    report, step = demo_report
    text = str(report)
    lines = text.splitlines()
    assert len(lines) <= 60, text
    for section in ("captured", "passes", "kernels", "fusion", "guards", "memory", "compile"):
        assert any(line.startswith(section) for line in lines), section
    variant = step.order[-1]
    assert f"captured  {len(variant.capture.graph.nodes)} nodes" in text
    assert "  from     demo.py:" in text  # nodes counted per user line (the demo is user code)
    assert f"{len(variant.forward_exec.kernels)} kernels" in text
    assert "0.00 MB" not in text and "nodes traced" not in text
    for p in variant.pass_records["forward"]:
        assert f"{p.nodes_before:>12} -> {p.nodes_after:<5}" in text, p.name
    # compile cost is the variant's own, not a recompile's
    assert report.seconds == variant.seconds
    assert step.stats["hits"] >= 2  # explain's call went through the compiled variant


def test_demo_fusion_counts_match_the_edges(demo_report):
    report, _ = demo_report
    part = report.parts[0]
    schedule = part.schedule
    kernel_of = schedule.kernel_of()
    pairs = {(kernel_of[v.id], k.index) for k in schedule.kernels for v in k.inputs
             if v.id in kernel_of and kernel_of[v.id] != k.index}
    assert {(e.src, e.dst) for e in part.fusion.edges} == pairs
    assert all(e.code in REASONS and e.code != "other" for e in part.fusion.edges)
    text = report.summary()
    for code, n in part.fusion.counts().items():
        assert f"{n:>5} {code}" in text or f"{n:>3} {code}" in text, code
    assert f"fusion    {len(pairs)} values pass between kernels" in text


def test_joint_graph_growth_is_shown_as_forward_plus_backward(joint_report):
    report = joint_report
    s = report.stats
    traced, joint = s["nodes_traced"], s["nodes_joint"]
    assert joint > traced
    text = str(report)
    assert f"autodiff{traced:>14} -> {joint:<5}  +{joint - traced} backward nodes" in text
    last = report.parts[0].passes[-1].nodes_after
    assert (f"split{last:>17} -> {s['nodes_forward']} forward + {s['nodes_backward']} backward"
            in text)
    assert s["nodes_forward"] == len(report.parts[0].graph.nodes)
    assert s["nodes_backward"] == len(report.parts[1].graph.nodes)


def test_pass_rows_say_what_changed():
    def f(x):
        return ta.tanh(x) * 2.0 + ta.tanh(x) * 3.0   # one duplicate tanh

    report = ta.explain(ta.compile(f, backend="interpret"), np.ones(3))
    cse = next(p for p in report.parts[0].passes if p.name == "cse")
    assert cse.nodes_before - cse.nodes_after == 1
    assert cse.describe() == "1 duplicate tanh merged"


def test_concretisation_points_name_the_user_line():
    def f(x):
        if x.sum() > 0:  # a value Python looks at
            return x * 2
        return x

    report = ta.explain(ta.compile(f, backend="interpret"), np.ones(3))
    text = str(report)
    assert "1 value Python looked at" in text
    assert "bool() at test_explain.py:" in text


def test_verbose_levels_add_the_long_forms(joint_report):
    one, two = joint_report.text(1), joint_report.text(2)
    assert "fusion edges (forward)" in one and "buf0" in one and "== captured graph ==" not in one
    assert "== captured graph ==" in two and "== backward graph after passes" in two


def test_kernels_source_heads_each_kernel_with_user_lines():
    def f(x):
        return ta.tanh(x).sum()

    report = ta.explain(ta.compile(f), np.ones((4, 3)))
    src = report.kernels_source()
    assert "def " in src and "# from test_explain.py:" in src and "ta.tanh(x).sum()" in src


def test_explain_of_disabled_compile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TRACEAD_DISABLE", "1")
    with pytest.raises(RuntimeError, match="nothing was compiled"):
        ta.explain(ta.compile(lambda x: x * 2, backend="interpret"), np.ones(2))


# -- reason codes -------------------------------------------------------------------------
@pytest.mark.parametrize("sentence,code", [
    ("fusing would form a cycle (a path leaves the group and comes back)",
     "multiple-consumers-recompute-too-costly"),
    ("transpose is not fusible (movement op)", "opaque-op"),
    ("a kernel holds one matmul (a BLAS call)", "matmul-boundary"),
    ("a matmul (a BLAS call) starts its kernel: it takes no prologue", "matmul-boundary"),
    ("a matmul kernel takes an elementwise epilogue only, not sum", "matmul-epilogue-not-elementwise"),
    ("add [] is not of the matmul's shape", "matmul-epilogue-shape"),
    ("mul does not consume the matmul (a matmul kernel starts with it)", "matmul-epilogue-not-consumer"),
    ("sum over axes (0,) keepdims=False is not row-wise", "reduction-consumer-different-shape"),
    ("reductions over [4,3] and [4,5] rows differ", "rowwise-shape-mismatch"),
    ("mul [4] is neither a row nor [4,3]", "rowwise-shape-mismatch"),
    ("add [] is needed by a later kernel at a smaller shape than the elementwise space [10]",
     "smaller-output-needed-outside"),
    ("exp [1,3] would be recomputed per element of [4,3]", "broadcast-recompute-too-costly"),
    ("shapes do not broadcast", "shape-mismatch"),
    (None, "greedy-order"),
    ("something new", "other"),
])
def test_reason_codes_are_stable(sentence, code):
    assert reason_code(sentence) == code


def test_two_matmuls_meet_at_a_matmul_boundary():
    w1 = ta.tensor(np.ones((3, 4)))
    w2 = ta.tensor(np.ones((4, 2)))
    report = ta.explain(ta.compile(lambda x: (x @ w1) @ w2, backend="interpret"), np.ones((5, 3)))
    codes = [e.code for e in report.parts[0].fusion.edges]
    assert codes == ["matmul-boundary"]
    assert "1 matmul-boundary" in report.summary()
    # each kernel's own reason (the second must not repeat the first's)
    assert [k.ends for k in report.parts[0].kernels] == ["matmul-boundary", "graph-output"]


def test_reduction_over_first_axis_ends_its_kernel():
    def f(x):
        s = x.sum(axis=0)
        return ta.exp(s) * x   # the consumer iterates over x's shape
    report = ta.explain(ta.compile(f, backend="interpret"), np.ones((4, 3)))
    assert "reduction-consumer-different-shape" in {e.code for e in report.parts[0].fusion.edges}


# -- memory view -----------------------------------------------------------------------------
def test_memory_view_matches_the_plan(joint_report):
    part = joint_report.parts[0]
    plan, view = part.memory_plan, part.memory
    assert len(view.spans) == len(plan.assignment)
    for s in view.spans:
        assert s.buffer in range(len(plan.buffers))
    by_value = {(s.first, s.last, s.buffer) for s in view.spans}
    assert by_value == {(*plan.live[vid], buf) for vid, buf in plan.assignment.items()}
    # peak: recomputed from the plan's live ranges
    steps = len(plan.schedule.kernels)
    nbytes = {v.id: v.nbytes for k in plan.schedule.kernels for v in k.outputs}
    live = [sum(nbytes[vid] for vid in plan.assignment if plan.live[vid][0] <= t <= min(plan.live[vid][1], steps - 1))
            for t in range(steps)]
    assert view.peak_live == max(live) and live[view.peak_step] == max(live)
    saved_ids = {v.id for v in part.graph.outputs[len(part.graph.outputs) - joint_report.captured.n_saved:]}
    assert view.saved_bytes == sum(nbytes[v] for v in saved_ids if v in plan.assignment)
    text = str(view)
    rows = [line for line in text.splitlines() if line.lstrip().startswith("buf")]
    assert len(rows) == len(plan.buffers)
    svg = ET.fromstring(view.to_svg())
    bars = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None]
    assert len(bars) == len(view.spans)


def test_small_plans_are_not_rounded_to_zero():
    report = ta.explain(ta.compile(lambda x: ta.exp(x) + 1, backend="interpret"), np.ones(3))
    assert "24 B" in report.summary()


# -- pictures ---------------------------------------------------------------------------------
def test_import_tracead_stays_light():
    code = ("import sys, tracead; heavy = [m for m in ('networkx', 'matplotlib', 'graphviz', 'pydot') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)), check=True).stdout
    assert out.strip() == "[]"


def test_dot_text_has_kernels_legend_and_user_lines(joint_report):
    node_dot = joint_report.to_dot(kernels=False)
    for k in joint_report.parts[0].schedule.kernels:
        assert f"subgraph cluster_k{k.index}" in node_dot
    assert "legend" in node_dot and "test_explain.py:" in node_dot
    kernel_dot = joint_report.to_dot(kernels=True)
    assert "kernel kinds" in kernel_dot and "matmul" in kernel_dot


def test_fallback_layout_follows_the_data_flow(joint_report, monkeypatch):
    monkeypatch.setattr(pictures, "have_dot", lambda: False)
    svg = joint_report.to_svg()
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "legend" in texts and any(t and t.startswith("k0 ") for t in texts)
    for line in root.iter(f"{ns}line"):  # every edge points down: layers along the data flow
        assert float(line.get("y1")) < float(line.get("y2"))


@pytest.mark.skipif(not pictures.have_dot(), reason="Graphviz (dot + python package) not installed")
def test_graphviz_pictures(joint_report, tmp_path):
    root = ET.fromstring(joint_report.to_svg())
    assert root.tag.endswith("svg")
    path = joint_report.to_png(str(tmp_path / "k.png"))
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width > 100 and height > 100


# -- HTML report ---------------------------------------------------------------------------------
class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links, self.tags, self.external = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])


@pytest.fixture(scope="module")
def html_file(joint_report, tmp_path_factory):
    return joint_report.to_html(str(tmp_path_factory.mktemp("html") / "report.html"))


def test_html_report_structure(joint_report, html_file):
    parser = _Collect()
    with open(html_file, encoding="utf-8") as f:
        parser.feed(f.read())
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    assert set(parser.links) <= set(parser.ids), set(parser.links) - set(parser.ids)
    for section in ("summary", "passes", "graphs", "kernels", "fusion", "guards", "memory"):
        assert section in parser.ids
    for part in joint_report.parts:
        for k in part.kernels:
            assert f"{part.label}-k{k.index}" in parser.ids
    assert parser.tags.count("svg") >= 3  # kernel pictures + memory pictures
    assert "script" not in parser.tags and not parser.external  # self-contained


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium (apt-get install chromium)")
def test_html_report_renders_in_a_browser(joint_report, html_file, tmp_path):
    shot = tmp_path / "report.png"
    common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}"]
    url = "file://" + os.path.abspath(html_file)
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for part in joint_report.parts:
        for k in part.kernels:
            assert f'id="{part.label}-k{k.index}"' in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    run = subprocess.run(common + [f"--screenshot={shot}", "--window-size=1280,2400", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("TRACEAD_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["TRACEAD_KEEP_SCREENSHOT"])


# -- profile's verdict --------------------------------------------------------------------------
def test_profile_break_even_is_hand_computed():
    r = ProfileReport("f", "numba", eager_seconds=0.010, compiled_seconds=0.002,
                      first_call_seconds=1.010, compile_seconds={"backend": 0.9})
    assert r.compile_overhead_seconds == pytest.approx(1.0)
    assert r.break_even_calls == 125  # 1.0 s / 8 ms
    assert "pays off after 125 calls" in str(r)
    slower = ProfileReport("f", "numba", 0.001, 0.002, 0.5, {})
    assert slower.break_even_calls is None and "not worth compiling" in str(slower)
    assert r.to_dict()["break_even_calls"] == 125
