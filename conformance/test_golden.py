"""The tutorial's two worked examples, as explicit Hypothesis examples."""

import dataclasses
import json
from importlib.resources import files

import numpy as np
from hypothesis import example
from hypothesis import strategies as st

from conformance.candidates import replay
from conformance.spec.assertions import assert_close, assert_running_stats_close
from conformance.spec.cases import Call, Case, Config
from conformance.suite import conformance_property

EXAMPLES = json.loads(files("conformance").joinpath("data/tutorial_examples.json").read_text())["examples"]
BY_NAME = {e["name"]: e for e in EXAMPLES}


@conformance_property(name=st.sampled_from(sorted(BY_NAME)))
@example(name="2d_3x2")
@example(name="3d_2x4x2")
def test_the_tutorial_worked_examples(subject, name):
    ex = BY_NAME[name]
    x = np.array(ex["input"], dtype=subject.dtype)
    case = Case(Config(ex["num_features"]), subject.dtype, (Call(True, x),))
    inst = subject.make(case.config)  # the defaults, given explicitly: these examples are about values
    y = inst.forward(x)
    exp = replay.run_oracle(case)  # the bounds for this input; the expected values are torch's
    assert_close(f"{name}: train output", y, ex["output"], exp.output_bounds[0], dtype=subject.dtype)
    want = dataclasses.replace(exp.states[0], running_mean=np.array(ex["running_mean_after"]),
                               running_var=np.array(ex["running_var_after"]))
    assert_running_stats_close(f"{name}: after the call", inst.get_state(), want, exp.state_bounds[0],
                               dtype=subject.dtype)
