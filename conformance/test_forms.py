"""Properties of the functional and pure forms themselves."""

import numpy as np
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.candidates import replay
from conformance.spec import oracle
from conformance.spec.assertions import assert_close, assert_running_stats_close, assert_state_equal
from conformance.suite import NotApplicable, conformance_property, needs

tracked = cst.any_config(track_running_stats=st.just(True))


@needs("state_argument")
@conformance_property
def test_pure_apply_leaves_the_state_passed_in_unchanged(subject, data):
    case = data.draw(cst.sequences(subject.dtype), label="case")
    for i, call, inst, _ in replay.play(subject, case):
        assert not inst.state_modified, (
            f"apply call {i} ({'train' if call.training else 'eval'}) modified the state passed in; "
            "it must return a new state instead")


@needs("state_argument")
@conformance_property
def test_pure_init_gives_a_fresh_state(subject, data):
    config = data.draw(cst.any_config(), label="config")
    got = subject.make(config).get_state()
    want = oracle.State.fresh(config.num_features, affine=config.affine, track_running_stats=config.track_running_stats)
    assert_state_equal("from init vs a fresh module's", got, want)


@needs("stats_arguments")
@conformance_property
def test_functional_form_takes_half_input_with_running_stats_of_the_module_dtype(subject, data):
    """float16 input with float32/float64 weight, bias and running stats: a float16 output,
    state kept in its own dtype and updated as the oracle says. torch pairs half input
    with float32 state only, so the float64 run of this property does not apply."""
    if subject.dtype != "float32":
        raise NotApplicable("half input pairs with float32 running stats (torch rejects float64 ones)")
    case = data.draw(cst.cases("float16", config=tracked, values=cst.ordinary_inputs), label="case")
    inst = subject.make(case.config)
    inst.set_state(case.initial_state())
    inst.train(True)
    y = inst.forward(case.x, case.call.layout)
    assert y.dtype == np.float16, f"output dtype {y.dtype} for a float16 input"
    for k, dt in inst.state_dtypes().items():
        assert dt == subject.dtype, f"{k} has dtype {dt} after a float16 call; the stats were {subject.dtype}"
    exp = replay.run_oracle(case)
    assert_close("float16 train output", y, exp.outputs[0], exp.output_bounds[0], dtype="float16")
    assert_running_stats_close("after a float16 train call", inst.get_state(), exp.states[0], exp.state_bounds[0],
                               dtype="float16")
