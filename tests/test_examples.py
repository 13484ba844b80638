"""The examples run as scripts and print the seeds' numbers."""
import os
import re
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _run(name: str) -> list[str]:
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)], capture_output=True,
                          text=True, timeout=300, check=True)
    return done.stdout.split()


def test_micrograd_example():
    assert _run("micrograd_example.py") == ["24.7041", "138.8338", "645.5773"]


def test_static_graph():
    assert _run("static_graph.py") == ["47.0", "-432.0", "-1.0"]


def test_linear_regression():
    words = _run("linear_regression.py")
    values = dict(zip(words[::2], map(float, words[1::2])))
    assert values["w"] == pytest.approx(3.0, abs=0.01)
    assert values["b"] == pytest.approx(-2.0, abs=0.01)
    assert values["loss"] < 2e-4


@pytest.mark.skipif(not os.environ.get("TRACEAD_SLOW_EXAMPLES"),
                    reason="starts a Ray cluster and trains twice (~30 s); TRACEAD_SLOW_EXAMPLES=1 runs it "
                           "(tests/test_distributed.py covers the same on the shared cluster)")
def test_data_parallel_matches_one_process():
    root = os.path.dirname(EXAMPLES)  # this checkout's tracead, in the script and its workers
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "data_parallel.py")],
                          capture_output=True, text=True, timeout=300, check=True, env=env)
    accuracies = re.findall(r"test accuracy ([\d.]+)%", done.stdout)
    assert len(accuracies) == 2 and accuracies[0] == accuracies[1]  # 2 workers, 1 process
    assert float(accuracies[0]) > 94
    gap = float(re.search(r"largest parameter difference (\S+)", done.stdout).group(1))
    assert gap < 1e-4  # float32 rounding over 168 Adam steps, not a different training
    assert "worker 1: compiled" in done.stdout


def test_cnn_digits_reaches_the_mlp_accuracy():
    root = os.path.dirname(EXAMPLES)  # this checkout's tracead (the layers are new)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    words = subprocess.run([sys.executable, os.path.join(EXAMPLES, "cnn_digits.py")], env=env,
                           capture_output=True, text=True, timeout=300, check=True).stdout
    assert float(re.search(r"test accuracy ([\d.]+)%", words).group(1)) >= 96.5
