"""Inputs that must be refused, with the exception type torch raises."""

import numpy as np
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.candidates.errors import CandidateError, MalformedOutput
from conformance.suite import conformance_property, needs


def raised(inst, x):
    """The exception the candidate raised for x, or None when it accepted x (whatever it returned:
    the suite's own error for a wrong output shape is not the candidate refusing)."""
    try:
        inst.forward_raw(x)
    except MalformedOutput:
        return None
    except CandidateError:  # built only now, in its own process: a crash of the constructor is a crash
        raise
    except Exception as e:  # noqa: BLE001 - any exception type is data here
        return e
    return None


@needs("rank_check")
@conformance_property
def test_input_of_rank_other_than_2_or_3_raises_value_error(subject, data):
    config = data.draw(cst.any_config(), label="config")
    C = config.num_features
    shape = data.draw(st.sampled_from([(C,), (2, C, 2, 2), (3, C, 1, 2)]), label="shape")
    training = data.draw(st.booleans(), label="training")
    inst = subject.make(config)
    inst.train(training)
    e = raised(inst, np.ones(shape, subject.dtype))
    assert isinstance(e, ValueError), (
        f"a {len(shape)}D input of shape {shape} should raise ValueError; got {e!r}" if e else
        f"a {len(shape)}D input of shape {shape} was accepted; it should raise ValueError")


@conformance_property
def test_a_channel_count_other_than_num_features_raises(subject, data):
    """Whenever the module holds per-channel state (affine or running stats)."""
    config = data.draw(cst.any_config().filter(lambda c: c.affine or c.track_running_stats),
                       label="config")
    C = config.num_features
    wrong = data.draw(st.integers(1, 6).filter(lambda k: k != C), label="channels given")
    shape = data.draw(st.sampled_from([(4, wrong), (2, wrong, 3)]), label="shape")
    training = data.draw(st.booleans(), label="training")
    inst = subject.make(config)
    inst.train(training)
    e = raised(inst, np.ones(shape, subject.dtype))
    mode = "train" if training else "eval"
    assert e is not None, f"num_features={C} but an input of shape {shape} was accepted ({mode})"


@conformance_property
def test_one_value_per_channel_raises_value_error_when_batch_statistics_are_used(subject, data):
    """m = N * L = 1 in training, or in eval without running stats."""
    config = data.draw(cst.any_config(), label="config")
    training = data.draw(st.booleans() if not config.track_running_stats else st.just(True), label="training")
    C = config.num_features
    shape = data.draw(st.sampled_from([(1, C), (1, C, 1)]), label="shape")
    inst = subject.make(config)
    inst.train(training)
    e = raised(inst, np.ones(shape, subject.dtype))
    assert isinstance(e, ValueError), (
        f"an input of shape {shape} has one value per channel; it should raise ValueError, got {e!r}" if e else
        f"an input of shape {shape} (one value per channel) was accepted in "
        f"{'train' if training else 'eval'} mode with track_running_stats={config.track_running_stats}")
