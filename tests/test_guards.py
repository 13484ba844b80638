"""Guards that decide whether a compiled variant may be reused: each one here once
let a compiled call return a silently wrong answer. Every test compares a call that
ran the compiled variant (a hit, not the traced first call) with NumPy, and runs
the same code eagerly too."""
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import tracead as ta
from checks import assert_close as _close, compile_in as _compile
from tracead import nn

MODES = ["eager", "interpret", "numba"]  # all three, whatever TRACEAD_TEST_MODES says


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def _compiled_ran(f, hits_before: int) -> None:
    if isinstance(f, ta.CompiledFunction):
        assert f.stats["hits"] > hits_before, f.stats
        assert f.stats["eager_calls"] == 0 and not f.gave_up


def _hits(f) -> int:
    return f.stats["hits"] if isinstance(f, ta.CompiledFunction) else 0


# -- 1. a free tensor is found again along the path the traced call took ----------------------
def test_rebinding_a_dict_entry_is_seen(mode):
    x = np.arange(1.0, 4.0)
    m = {"w": ta.tensor(np.full(3, 2.0))}
    f = _compile(lambda x: x * m["w"], mode)
    f(x)
    _close(f(x), x * 2)
    hits = _hits(f)
    m["w"] = m["w"] * 3  # a new tensor under the same key
    _close(f(x), x * 6)
    _compiled_ran(f, hits)


_W = ta.tensor(np.full(3, 2.0))


def _times_global(x):
    return x * _W


def test_rebinding_a_global_name_is_seen(mode):
    global _W
    x = np.arange(1.0, 4.0)
    f = _compile(_times_global, mode)
    f(x)
    _close(f(x), x * 2)
    hits = _hits(f)
    _W = _W - 0.5 * _W  # `w = w - lr * g` between steps
    _close(f(x), x * 1.0)
    _compiled_ran(f, hits)
    _W = ta.tensor(np.full(3, 2.0))


def test_rebinding_a_closed_over_name_is_seen(mode):
    w = ta.tensor(np.float32(2.0))  # 0-d, broadcast against the argument

    def f(x):
        return (x * w).sum()

    cf = _compile(f, mode)
    x = np.arange(4.0, dtype=np.float32)
    cf(x)
    _close(cf(x), 12.0)
    hits = _hits(cf)
    w = w * 10  # noqa: F841 - rebinds the cell the function reads
    _close(cf(x), 120.0)
    _compiled_ran(cf, hits)


def test_replacing_a_module_parameter_is_seen(mode):
    model = nn.MLP([3, 4, 1], seed=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 3))

    def loss(x):
        return (model(x) ** 2).mean()

    f = _compile(loss, mode)
    f(x)
    f(x)
    hits = _hits(f)
    new_weight = np.random.default_rng(1).standard_normal((3, 4))
    model.layers[0].weight = ta.tensor(new_weight, requires_grad=True)
    w2, b2 = model.layers[2].weight.numpy(), model.layers[2].bias.numpy()
    expected = ((np.maximum(x @ new_weight, 0) @ w2 + b2) ** 2).mean()
    _close(f(x), expected)
    _compiled_ran(f, hits)


def test_a_rebound_tensor_of_another_shape_retraces_and_says_where(backend):
    m = {"w": ta.tensor(np.ones(3))}
    f = ta.compile(lambda x: (x * m["w"]).sum(), backend=backend)
    f(np.ones(3))
    m["w"] = ta.tensor(np.ones(1) * 4)
    _close(f(np.ones(3)), 12.0)
    assert f.stats["misses"] == 2
    assert "['w']" in f.recompile_reasons[-1] and "[3]" in f.recompile_reasons[-1]
    _close(f(np.ones(3)), 12.0)
    assert f.stats["hits"] == 1


def test_a_path_that_breaks_or_yields_a_number_retraces(backend):
    m = {"w": ta.tensor(np.full(2, 2.0))}
    f = ta.compile(lambda x: x * m["w"], backend=backend)
    f(np.ones(2))
    m["w"] = 5.0
    _close(f(np.ones(2)), [5.0, 5.0])
    assert "now float" in f.recompile_reasons[-1]
    g = ta.compile(lambda x: x * m["v"], backend=backend)
    m["v"] = ta.tensor(np.full(2, 2.0))
    g(np.ones(2))
    del m["v"]
    with pytest.raises(KeyError):  # the retrace runs the function, which raises as eagerly
        g(np.ones(2))


_LR = 0.5


def _scaled(x):
    return x * _LR


def test_global_and_closed_over_scalars_are_guarded_by_value(mode):
    global _LR
    f = _compile(_scaled, mode)
    x = np.ones(2)
    f(x)
    _close(f(x), x * 0.5)
    _LR = 0.25
    _close(f(x), x * 0.25)
    _LR = 0.5
    eps = 1.0

    def g(x):
        return x + eps

    cg = _compile(g, mode)
    cg(x)
    _close(cg(x), x + 1)
    eps = -0.0  # noqa: F841
    _close(cg(x), x)


def test_free_tensor_found_only_by_reference_still_sees_in_place_updates(backend):
    holder = [ta.tensor(np.ones(2))]
    w = holder[0]
    f = ta.compile(lambda x: x * w, backend=backend)  # the closure cell holds w itself
    f(np.ones(2))
    w.assign_(w * 3)
    _close(f(np.ones(2)), [3.0, 3.0])


# -- 2. .grad read inside a compiled function is an input of every call --------------------------
def test_grad_read_inside_is_read_each_call(mode):
    p = ta.tensor(np.ones(3), requires_grad=True)

    def sgd_step():
        p.assign_(p - 0.5 * p.grad)

    step = _compile(sgd_step, mode)
    expected = np.ones(3)
    grads = [np.full(3, 1.0), np.array([2.0, -1.0, 0.5]), np.full(3, 4.0)]
    for i, g in enumerate(grads):
        p.grad = ta.tensor(g)
        hits = _hits(step)
        step()
        expected = expected - 0.5 * g
        _close(p, expected)
        if i:
            _compiled_ran(step, hits)


def test_grad_none_versus_tensor_is_guarded(backend):
    p = ta.tensor(np.ones(2), requires_grad=True)

    def f(x):
        return x * 2 if p.grad is None else x * p.grad

    cf = ta.compile(f, backend=backend)
    cf(np.ones(2))
    _close(cf(np.ones(2)), [2.0, 2.0])
    p.grad = ta.tensor([3.0, 4.0])
    _close(cf(np.ones(2)), [3.0, 4.0])
    assert ".grad" in cf.recompile_reasons[-1]
    p.grad = ta.tensor([5.0, 6.0])
    _close(cf(np.ones(2)), [5.0, 6.0])
    p.grad = None
    _close(cf(np.ones(2)), [2.0, 2.0])
    assert cf.stats["hits"] == 3, cf.recompile_reasons


def test_grad_that_is_also_read_directly_must_stay_the_same_tensor(backend):
    p = ta.tensor(np.ones(2), requires_grad=True)
    g = ta.tensor([1.0, 2.0])
    p.grad = g
    cf = ta.compile(lambda x: x * g + p.grad, backend=backend)
    cf(np.ones(2))
    _close(cf(np.ones(2)), [2.0, 4.0])
    p.grad = ta.tensor([10.0, 20.0])
    _close(cf(np.ones(2)), [11.0, 22.0])


def test_grad_of_an_argument_is_read_each_call(backend):
    cf = ta.compile(lambda t: t.grad * 2, backend=backend)
    t = ta.tensor(np.ones(2), requires_grad=True)
    for g in ([1.0, 2.0], [3.0, 4.0], [5.0, 7.0]):
        t.grad = ta.tensor(g)
        _close(cf(t), np.multiply(g, 2))
    assert cf.stats["hits"] == 2


# -- 3. object arguments: ids are reused, so never guard by id alone -----------------------------
class Cfg:
    def __init__(self, scale):
        self.scale = scale


@dataclass(frozen=True)
class FrozenCfg:
    scale: float


def _object_with_reused_id(dead_id: int, scale: float) -> Cfg:
    """A new Cfg at the address of a dead one (CPython reuses freed memory)."""
    keep = []
    for _ in range(10_000):
        c = Cfg(scale)
        if id(c) == dead_id:
            return c
        keep.append(c)
    pytest.skip("no id reuse observed")


def test_fresh_objects_with_a_reused_id_are_not_confused(mode):
    f = _compile(lambda x, c: x * c.scale, mode)
    x = np.ones(2)
    c = Cfg(1.0)
    f(x, c)
    _close(f(x, c), x)
    dead = id(c)
    del c
    for s in (2.0, 3.0):
        c = _object_with_reused_id(dead, s)
        _close(f(x, c), x * s)
        del c


def test_an_object_argument_mutated_between_calls_retraces(backend):
    f = ta.compile(lambda x, c: x * c.scale, backend=backend)
    cfg, x = Cfg(2.0), np.ones(2)
    f(x, cfg)
    _close(f(x, cfg), x * 2)
    assert f.stats["hits"] == 1
    cfg.scale = 5.0
    _close(f(x, cfg), x * 5)
    assert "attribute" in f.recompile_reasons[-1]


class Weights:
    def __init__(self, scales):
        self.scales = {"a": scales[0], "b": scales[1]}  # a dict: not compared, so identity matters


def test_a_new_object_at_a_reused_id_is_not_confused_even_with_equal_plain_attributes(backend):
    f = ta.compile(lambda x, c: x * c.scales["a"] + c.scales["b"], backend=backend)
    x = np.ones(2)
    c = Weights((2.0, 1.0))
    f(x, c)
    _close(f(x, c), x * 3)
    dead = id(c)
    del c
    keep = []
    for _ in range(10_000):
        c = Weights((5.0, 0.0))
        if id(c) == dead:
            break
        keep.append(c)
    else:
        pytest.skip("no id reuse observed")
    _close(f(x, c), x * 5)


def test_a_list_attribute_mutated_in_place_retraces(backend):
    f = ta.compile(lambda x, c: x * c.scale[0], backend=backend)
    c, x = Cfg([2.0]), np.ones(2)
    f(x, c)
    _close(f(x, c), x * 2)
    c.scale[0] = 7.0
    _close(f(x, c), x * 7)


def test_grad_mode_is_part_of_the_guard(backend):
    w = ta.tensor(np.array([1.0, 2.0]), requires_grad=True)
    cf = ta.compile(lambda x: (x * w).sum(), backend=backend)
    x = np.array([3.0, 4.0])
    with ta.no_grad():
        cf(x)
        out = cf(x)
    assert not out.requires_grad
    cf(x)
    out = cf(x)
    assert out.requires_grad and cf.stats["hits"] == 2
    out.backward()
    _close(w.grad, x)


def test_value_objects_are_compared_by_equality(backend):
    f = ta.compile(lambda x, c: x * c.scale, backend=backend)
    x = np.ones(2)
    for s in (2.0, 2.0, 3.0, 3.0, 2.0):
        _close(f(x, FrozenCfg(s)), x * s)
    assert f.stats["misses"] == 2 and f.stats["hits"] == 3


def test_tensor_reached_through_an_object_argument_is_found_per_call(backend):
    f = ta.compile(lambda x, c: x * c.scale, backend=backend)
    cfg, x = Cfg(ta.tensor([2.0, 3.0])), np.ones(2)
    f(x, cfg)
    cfg.scale = ta.tensor([5.0, 7.0])
    _close(f(x, cfg), [5.0, 7.0])
    assert f.stats["hits"] == 1


# -- 4. float scalars: signed zero and NaN ----------------------------------------------------------
def test_signed_zero_gets_its_own_variant(mode):
    f = _compile(lambda x, s: 1.0 / (x * s), mode)
    x = np.ones(2)
    with np.errstate(divide="ignore"):
        f(x, 0.0)
        assert np.all(np.asarray(f(x, 0.0)) == np.inf)
        assert np.all(np.asarray(f(x, -0.0)) == -np.inf)
        assert np.all(np.asarray(f(x, -0.0)) == -np.inf)
    assert math.copysign(1.0, -0.0) == -1.0


def test_nan_scalar_reuses_its_variant(backend):
    f = ta.compile(lambda x, s: x + s, backend=backend)
    for _ in range(3):
        assert np.all(np.isnan(np.asarray(f(np.ones(2), float("nan")))))
    assert f.stats["misses"] == 1 and f.stats["hits"] == 2
    np32 = np.float32("nan")
    f(np.ones(2), np32)
    f(np.ones(2), np32)
    assert f.stats["misses"] == 2


def test_a_tensor_reached_from_two_roots_retraces_when_they_diverge(backend):
    params = [ta.tensor(np.full(2, 2.0))]
    model = {"w": params[0]}

    def f(x):
        return x * model["w"]

    def g(x):  # reads the list; `model` is also named, so the search sees both roots
        return x * params[0] + 0 * len(model)

    for fn, rebind, expected in ((f, "model", 7.0), (g, "params", 5.0)):
        params[0] = model["w"] = ta.tensor(np.full(2, 2.0))
        cf = ta.compile(fn, backend=backend)
        cf(np.ones(2))
        _close(cf(np.ones(2)), [2.0, 2.0])
        if rebind == "model":
            model["w"] = ta.tensor(np.full(2, 7.0))
        else:
            params[0] = ta.tensor(np.full(2, 5.0))
        _close(cf(np.ones(2)), [expected] * 2)
        _close(cf(np.ones(2)), [expected] * 2)
        # f names one root: the new tensor is simply found; g names two that now disagree
        assert cf.stats["hits"] == (3 if fn is f else 2)
        assert (fn is f) == (cf.stats["misses"] == 1)


class Slotted:
    __slots__ = ("scale",)  # no __weakref__, no __eq__: nothing can recognise it again

    def __init__(self, scale):
        self.scale = scale


def test_an_object_that_cannot_be_recognised_is_never_reused(backend):
    f = ta.compile(lambda x, c: x * c.scale, backend=backend, max_variants=3)
    x = np.ones(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for s in (1.0, 2.0, 3.0, 4.0, 5.0):
            _close(f(x, Slotted(s)), x * s)
    assert f.stats["hits"] == 0 and f.gave_up
    assert any("cannot be recognised" in str(w.message) for w in caught)


def test_odd_roots_and_names_are_found(backend):
    """A default argument value, an attribute named like a keyword (setattr), a key
    that is not a string: each path still works per call."""
    class Box:
        pass

    box = Box()
    setattr(box, "class", ta.tensor([1.0, 1.0]))  # cannot be written as box.class
    box.items = {(1, 2): ta.tensor([2.0, 2.0])}
    default = ta.tensor([3.0, 3.0])

    def f(x, w=default):
        return x * getattr(box, "class") + box.items[(1, 2)] + w

    cf = ta.compile(f, backend=backend)
    x = np.ones(2)
    cf(x)
    _close(cf(x), [6.0, 6.0])
    box.items[(1, 2)] = ta.tensor([20.0, 20.0])
    f.__defaults__ = (ta.tensor([30.0, 30.0]),)
    _close(cf(x), [51.0, 51.0])
    setattr(box, "class", ta.tensor([0.0, 0.0]))
    _close(cf(x), [50.0, 50.0])
    assert cf.stats["hits"] == 3, cf.recompile_reasons
