"""The shape pool (conformance/strategies/pool.py): pooled draws stay in the pool, and without pooling
the pool is never loaded, so the default draws (and the constants Hypothesis takes from loaded
modules) are what they were."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = '''
import json, sys
from hypothesis import given, settings, strategies as st
import conformance.strategies as cst

pooled = sys.argv[1] == "pool"
if pooled:
    cst.use_shape_pool()
seen = []

@settings(max_examples=300, derandomize=True, database=None)
@given(st.data())
def draw(data):
    C = data.draw(cst.num_features)
    seen.append(list(data.draw(cst.shapes(C))))
    case = data.draw(cst.cases("float32", large=True))
    seen.append(list(case.x.shape))
    seen.extend(list(c.x.shape) for c in data.draw(cst.sequences("float64")).calls)
    seen.append(list(data.draw(cst.cases("float64", big=True)).x.shape))

draw()
print(json.dumps({"shapes": seen, "pool_loaded": "conformance.strategies.pool" in sys.modules}))
'''


def draws(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_pooled_draws_take_only_the_pools_shapes_and_cover_what_the_default_covers():
    from conformance.strategies import pool

    got = draws("pool")
    shapes = {tuple(s) for s in got["shapes"]}
    assert shapes <= pool.all_shapes(), sorted(shapes - pool.all_shapes())
    m = {s[0] * (s[2] if len(s) == 3 else 1) for s in shapes}
    assert {2, 3, 4096} <= m and any(512 <= k < 4096 for k in m), sorted(m)
    assert {len(s) for s in shapes} == {2, 3}
    assert max(s[1] for s in shapes) == 33


def test_without_pooling_the_pool_is_never_loaded_and_the_draws_are_the_defaults():
    from conformance.strategies import pool

    got = draws("default")
    assert not got["pool_loaded"]
    shapes = {tuple(s) for s in got["shapes"]}
    assert len(shapes - pool.all_shapes()) > 50  # Hypothesis' own shapes, not the pool's
    assert draws("default")["shapes"] == got["shapes"]  # derandomized: the same, run after run
