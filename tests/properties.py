"""Shared hypothesis settings and strategies for the property-based tests (tests/test_properties_*.py).

Every property test runs a bounded, reproducible number of examples: ``derandomize`` makes hypothesis draw
the same examples on every run (CI cannot pass by luck or fail by chance), ``deadline=None`` because a shared
2-core machine must not turn a slow example into a failure, and the example database is off so that no run
depends on an earlier one."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

BOUNDED = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy:
    """Any JSON value: null, booleans, numbers, strings, lists and objects, nested."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=12)
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=max_leaves,
    )


@st.composite
def masks(draw: st.DrawFn, max_side: int = 24) -> np.ndarray:
    """A random (H, W) bool mask: speckle, rectangles, or everything / nothing."""
    height = draw(st.integers(1, max_side))
    width = draw(st.integers(1, max_side))
    kind = draw(st.sampled_from(["speckle", "rectangles", "full", "empty"]))
    if kind == "full":
        return np.ones((height, width), bool)
    if kind == "empty":
        return np.zeros((height, width), bool)
    if kind == "speckle":
        seed = draw(st.integers(0, 2**32 - 1))
        density = draw(st.floats(0.05, 0.95))
        return np.random.default_rng(seed).random((height, width)) < density
    mask = np.zeros((height, width), bool)
    for _ in range(draw(st.integers(1, 3))):
        y0, x0 = draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))
        mask[y0 : y0 + draw(st.integers(1, height)), x0 : x0 + draw(st.integers(1, width))] = True
    return mask
