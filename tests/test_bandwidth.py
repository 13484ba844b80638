"""One bandwidth measurement: the library's (tools/bandwidth.py), cached once per machine;
the benchmarks measure through it and read the same cache."""
from __future__ import annotations

import json

from benchmarks import bandwidth as bench
from tracead.tools import bandwidth


def _fake_stream(calls: list, rates: dict):
    def stream():
        calls.append(1)
        return dict(rates)
    return stream


def test_measured_once_then_read_from_the_cache(tmp_path):
    path, calls = tmp_path / "bw.json", []
    stream = _fake_stream(calls, {"copy": 10.0, "triad": 12.5})
    assert bandwidth.measure_bandwidth(path=path, stream=stream) == 12.5
    assert bandwidth.measure_bandwidth(path=path, stream=stream) == 12.5 and len(calls) == 1
    assert bandwidth.cached_kernels(path) == {"copy": 10.0, "triad": 12.5}
    assert bandwidth.measure_bandwidth(True, path=path, stream=_fake_stream(calls, {"copy": 7.0})) == 7.0
    assert len(calls) == 2 and bandwidth.cached_kernels(path) == {"copy": 7.0}


def test_unreadable_cache_is_measured_again_and_save_false_writes_nothing(tmp_path):
    path, calls = tmp_path / "bw.json", []
    path.write_text(json.dumps({bandwidth.machine_key(): {"gbps": "?"}}))
    assert bandwidth.measure_bandwidth(path=path, stream=_fake_stream(calls, {"copy": 3.0})) == 3.0
    other = tmp_path / "none.json"
    assert bandwidth.measure_bandwidth(path=other, save=False,
                                       stream=_fake_stream(calls, {"copy": 4.0})) == 4.0
    assert not other.exists() and len(calls) == 2


def test_the_benchmarks_read_the_library_measurement(tmp_path, monkeypatch):
    path = tmp_path / "bw.json"
    bandwidth.measure_bandwidth(path=path, stream=_fake_stream([], {"numpy copy": 21.0}))
    monkeypatch.setattr(bench, "run_stream", lambda *a: (_ for _ in ()).throw(AssertionError("measured")))
    assert bench.measure_bandwidth(path) == 21.0
    assert bench.cached_kernels(path) == {"numpy copy": 21.0}
    assert bench.cached_kernels is bandwidth.cached_kernels
