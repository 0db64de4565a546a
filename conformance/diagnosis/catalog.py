"""The catalog: the known deviations from torch's BatchNorm1d that the diagnosis can name.

An ``Entry`` is either a variant, a change to some fields of ``Semantics`` (torch's steps, each at
torch's setting) whose behaviour ``variants.predict`` computes, or a side check run by ``checks``
(the input modified in place, a missing ValueError, ...). Its verdict says in words what the
implementation does and what torch does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.spec import oracle

# --- the semantics a variant changes --------------------------------------------------


@dataclass(frozen=True)
class Semantics:
    """torch's BatchNorm1d with each step a catalog entry may change, at torch's setting."""

    pooling: str = "channel"  # all N*L values of a channel; "position": each (c, l) over N;
    #                           "position_loop": one 2D call per position; "all": every channel together
    variance: str = "about_mean"  # "about_zero": mean(x^2)
    normalise_unbiased: bool = False  # the normalisation divides by m - 1
    eps: str = "inside"  # sqrt(var + eps); "outside": sqrt(var) + eps; "ignored": sqrt(var)
    affine: str = "weight_then_bias"  # "weight_ignored": xhat + bias; "bias_before_weight": (xhat + bias) * weight
    stored_variance: str = "unbiased"  # running_var accumulates sigma^2 * m/(m-1); "biased": sigma^2
    momentum: str = "torch"  # (1 - f) running + f batch; "reversed": f running + (1 - f) batch
    momentum_none: str = "1/t"  # the factor of momentum=None: "1/(t+1)", "0.1"
    momentum_zero_as_none: bool = False
    eval_uses_batch: bool = False
    eval_updates: bool = False
    counter_counts_eval: bool = False
    # what factory(C) does with the arguments it is not given
    default_eps: float = oracle.DEFAULT_EPS
    default_momentum: float | None = oracle.DEFAULT_MOMENTUM
    initial_running_var: float = 1.0
    starts_training: bool = True
    default_affine: bool = True
    gradients: str = "through_statistics"  # "detached": backward treats the batch mean and variance as constants


# --- the entries ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A named known deviation: a change to the semantics, or a side check; and its verdict."""

    name: str
    title: str
    verdict: str  # what the implementation does, what torch does
    changes: dict = field(default_factory=dict)  # Semantics fields (empty for a side check)
    check: str | None = None  # the side check that detects it (see SIDE_CHECKS)
    unpredicted: bool = False  # its rounding is not in the predictions: later aspects' probes cannot be judged

    @property
    def aspect(self) -> str:
        """The aspect of the semantics it belongs to (``aspects.ASPECTS``)."""
        return ASPECT_OF[self.check] if self.check else ASPECT_OF[next(iter(self.changes))]

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "verdict": self.verdict, "aspect": self.aspect}


# Which aspect each Semantics field and each side check belongs to.
ASPECT_OF = {
    "pooling": "pooling", "variance": "normalising_variance", "normalise_unbiased": "normalising_variance",
    "eps": "eps", "affine": "affine", "stored_variance": "running_update", "momentum": "running_update",
    "momentum_zero_as_none": "running_update", "momentum_none": "cumulative_average",
    "eval_uses_batch": "eval", "eval_updates": "eval", "counter_counts_eval": "counter",
    "default_eps": "defaults", "default_momentum": "defaults", "initial_running_var": "defaults",
    "starts_training": "defaults", "default_affine": "defaults",
    "input_modified": "data_handling", "layout": "data_handling", "output_dtype": "data_handling",
    "state_dtype": "data_handling", "narrow_state": "precision", "cancellation": "precision",
    "float32_compute": "precision", "eps_float32": "precision", "half_state": "precision",
    "half_statistics": "precision",
    "gradients": "gradients", "declared_counter": "counter", "pure_state": "data_handling", "pure_init": "defaults",
    "half_input": "data_handling",
    "one_value": "input_errors", "rank": "input_errors", "channels": "input_errors",
}


CATALOG: tuple[Entry, ...] = (
    # which values pool
    Entry("per_position_pooling", "statistics pooled per position",
          "Each (channel, position) is normalised on its own: your implementation pools over N only, for every "
          "position l separately; torch pools all N*L values of a channel together (the tutorial's misreading).",
          {"pooling": "position"}),
    Entry("per_position_calls", "one 2D call per position",
          "Each position goes through the 2D computation separately: your implementation normalises x[:, :, l] "
          "over N alone and updates the running stats once per position; torch pools all N*L values of a channel "
          "and updates once per call (the tutorial's misreading).",
          {"pooling": "position_loop"}),
    Entry("pooled_over_channels", "statistics pooled over every channel",
          "One mean and variance for the whole batch: your implementation pools every channel together; torch "
          "computes the statistics per channel, over N and L.",
          {"pooling": "all"}),
    # the normalisation
    Entry("unbiased_normalisation", "unbiased variance in the normalisation",
          "The output is normalised with the unbiased variance: your implementation divides by "
          "sqrt(sigma^2 * m/(m-1) + eps); torch normalises with the biased sigma^2 (divide by m) and keeps the "
          "unbiased one for running_var only.",
          {"normalise_unbiased": True}),
    Entry("variance_about_zero", "variance taken about zero",
          "The variance is taken about zero: your implementation uses mean(x^2); torch uses mean((x - mean)^2).",
          {"variance": "about_zero"}),
    Entry("eps_outside_sqrt", "eps outside the square root",
          "eps sits outside the square root: your implementation divides by sqrt(sigma^2) + eps; torch divides by "
          "sqrt(sigma^2 + eps).",
          {"eps": "outside"}),
    Entry("eps_ignored", "eps ignored",
          "eps is never used: your implementation divides by sqrt(sigma^2); torch divides by sqrt(sigma^2 + eps).",
          {"eps": "ignored"}),
    Entry("weight_ignored", "weight ignored",
          "The weight is not applied: your implementation outputs xhat + bias; torch outputs weight * xhat + bias.",
          {"affine": "weight_ignored"}),
    Entry("bias_before_weight", "bias added before the weight",
          "The bias is added before scaling: your implementation outputs (xhat + bias) * weight; torch outputs "
          "weight * xhat + bias.",
          {"affine": "bias_before_weight"}),
    # the running statistics
    Entry("biased_running_var", "biased running_var",
          "running_var matches the biased variance: your implementation stores sigma^2, torch stores "
          "sigma^2 * m/(m-1) (the unbiased variance, m = N*L).",
          {"stored_variance": "biased"}),
    Entry("momentum_reversed", "momentum convention reversed",
          "The momentum convention is reversed: your implementation computes momentum * running + "
          "(1 - momentum) * batch (the Keras/Flax/ONNX convention); torch computes (1 - momentum) * running + "
          "momentum * batch.",
          {"momentum": "reversed"}),
    Entry("cumulative_average_off_by_one", "cumulative average off by one",
          "momentum=None's cumulative average is off by one: your implementation weighs the new batch by "
          "1/(t+1); torch weighs it by 1/t, t being num_batches_tracked after the increment (the first batch "
          "replaces the initial statistics).",
          {"momentum_none": "1/(t+1)"}),
    Entry("momentum_none_as_0_1", "momentum=None treated as 0.1",
          "momentum=None falls back to 0.1: your implementation uses a fixed momentum; torch uses the cumulative "
          "average, 1/num_batches_tracked.",
          {"momentum_none": "0.1"}),
    Entry("momentum_zero_as_none", "momentum=0 treated as None",
          "momentum=0 takes the cumulative-average branch (`if not momentum`): your implementation updates the "
          "running stats with 1/num_batches_tracked; torch keeps them frozen.",
          {"momentum_zero_as_none": True}),
    # train versus eval
    Entry("eval_uses_batch_statistics", "eval uses batch statistics",
          "Eval mode normalises with the batch statistics: your implementation ignores running_mean and "
          "running_var in eval; torch normalises with them.",
          {"eval_uses_batch": True}),
    Entry("eval_updates_running_stats", "eval updates the running stats",
          "Eval mode updates the running statistics: your implementation changes running_mean, running_var and "
          "num_batches_tracked in eval; torch changes no state in eval.",
          {"eval_updates": True}),
    Entry("counter_counts_eval_calls", "num_batches_tracked counts eval calls",
          "num_batches_tracked counts eval calls too: your implementation increments it on every call; torch "
          "counts training calls only.",
          {"counter_counts_eval": True}),
    # defaults
    Entry("default_eps_1e_3", "default eps 1e-3",
          "The default eps is 1e-3 (Keras' default): factory(C) normalises with eps=1e-3; torch's default is 1e-5.",
          {"default_eps": 1e-3}),
    Entry("default_momentum_0_9", "default momentum 0.9",
          "The default momentum is 0.9 in torch's convention (ONNX's 0.9 not converted): factory(C) keeps 90% of "
          "each batch; torch's default 0.1 keeps 10%.",
          {"default_momentum": 0.9}),
    Entry("default_momentum_0_01", "default momentum 0.01 (Keras' and Flax's 0.99)",
          "The default momentum is 0.01 in torch's convention (Keras' and Flax's default 0.99, which weighs the "
          "old running value): factory(C) keeps 1% of each batch; torch's default 0.1 keeps 10%.",
          {"default_momentum": 0.01}),
    Entry("running_var_starts_at_zero", "running_var starts at 0",
          "running_var starts at 0: factory(C) initialises it to zeros; torch initialises it to ones.",
          {"initial_running_var": 0.0}),
    Entry("starts_in_eval_mode", "starts in eval mode",
          "A fresh module is in eval mode: factory(C) has training=False; torch starts in training mode.",
          {"starts_training": False}),
    Entry("default_not_affine", "not affine by default",
          "factory(C) has no weight and bias: your implementation defaults to affine=False; torch defaults to "
          "affine=True, with weight ones and bias zeros.",
          {"default_affine": False}),
    # gradients
    Entry("statistics_detached_in_backward", "batch statistics detached in the backward pass",
          "The backward pass treats the batch mean and variance as constants: your implementation's grad_input "
          "is weight * grad_output / sqrt(var + eps); torch differentiates through the batch statistics, so "
          "grad_input sums to zero per channel.",
          {"gradients": "detached"}),
    # side checks
    Entry("modifies_its_input", "input modified in place",
          "The input is modified in place: your implementation writes into the array it is given (e.g. "
          "x -= mean); torch never modifies its input.",
          check="input_modified"),
    Entry("depends_on_memory_layout", "result depends on the memory layout",
          "The result depends on how the input is laid out in memory: your implementation reads the raw buffer "
          "(a transposed or strided view gives other values); torch reads the values whatever the layout.",
          check="layout"),
    Entry("output_dtype_differs", "output dtype differs from the input's",
          "The output does not keep the input's dtype: your implementation returns another dtype (e.g. float64 "
          "for float32 input); torch returns the input's dtype.",
          check="output_dtype"),
    Entry("state_dtype_changes", "running stats change dtype",
          "The running statistics change dtype: your implementation replaces them with arrays of another dtype "
          "(e.g. rebinding to float64 results); torch updates them in place in the module's dtype.",
          check="state_dtype"),
    Entry("state_in_a_narrower_dtype", "state kept in a narrower dtype",
          "Part of the state is kept in a narrower dtype than the module's: your implementation holds e.g. float32 "
          "running statistics in a float64 module (Flax creates batch_stats as float32 whatever param_dtype), so "
          "they carry float32 rounding; torch keeps all state in the module's dtype.",
          check="narrow_state"),
    Entry("variance_cancels", "variance cancels catastrophically",
          "The variance loses its digits on a large offset: your implementation agrees with torch on centred data "
          "but not on the same data shifted by 1e4 (1e2 in float32), typical of E[x^2] - E[x]^2 in the working "
          "precision; torch subtracts the mean before squaring.",
          check="cancellation"),
    Entry("computes_in_float32", "float64 computed in float32",
          "A float64 module computes in float32: your implementation's float64 outputs and running stats carry "
          "float32 rounding (Keras 3 promotes float64 to float32 on its torch and JAX backends); torch computes "
          "float64 in float64.",
          check="float32_compute"),
    Entry("eps_rounded_to_float32", "eps rounded to float32",
          "eps is rounded to float32 in a float64 module: your implementation normalises with float32(eps) (ONNX "
          "stores float attributes, eps and momentum, in 32 bits); torch uses eps as given, in double.",
          check="eps_float32"),
    Entry("running_stats_rounded_to_half", "running stats rounded to half precision",
          "Given half input, the running statistics are rounded to the input's half precision before they are "
          "stored: your implementation's float32 buffers hold only half values, about 3 significant digits; torch "
          "updates them in float32.",
          check="half_state", unpredicted=True),
    Entry("statistics_in_half", "half input's statistics computed in half precision",
          "Given float16 input, the batch statistics are computed in float16: deviations from the mean past 256 "
          "square past float16's largest value (65504), and your running_var or output turns inf or nan; torch "
          "accumulates half input in float32.",
          check="half_statistics", unpredicted=True),
    Entry("apply_modifies_the_state_passed_in", "apply modifies the state passed in",
          "The pure form's apply writes into the state it is given: your implementation updates the running "
          "statistics passed in; a pure apply returns a new state and leaves its argument as it was, as "
          "torch's functional batch_norm leaves everything but the running buffers it is asked to update.",
          check="pure_state"),
    Entry("init_state_not_fresh", "init does not give a fresh state",
          "The pure form's init gives another state than a fresh module's: torch starts with weight 1, bias 0, "
          "running_mean 0, running_var 1 and num_batches_tracked 0.",
          check="pure_init"),
    Entry("half_input_mishandled", "half input with float32 running stats mishandled",
          "Given float16 input with float32 running statistics, your implementation does not return a float16 "
          "output with the statistics kept in float32 and updated; torch's batch_norm does (mixed precision).",
          check="half_input"),
    Entry("keeps_a_counter_it_declares_missing", "keeps a counter it declares it lacks",
          "It declares conformance_lacks = ('counter',), which exempts it from the counter's properties, yet train "
          "calls change its num_batches_tracked; torch counts train calls (drop 'counter' from conformance_lacks "
          "and let those properties judge it).",
          check="declared_counter"),
    Entry("accepts_one_value_per_channel", "no error for one value per channel",
          "One value per channel is accepted in training: your implementation returns an output (the bias); "
          "torch raises ValueError('Expected more than 1 value per channel when training').",
          check="one_value"),
    Entry("accepts_other_ranks", "no rank check",
          "Input of rank other than 2 or 3 is accepted: your implementation normalises a 4D input; torch's "
          "BatchNorm1d raises ValueError('expected 2D or 3D input').",
          check="rank"),
    Entry("accepts_wrong_channel_count", "no channel-count check",
          "A channel count other than num_features is accepted (e.g. by broadcasting a size-1 channel axis); "
          "torch raises.",
          check="channels"),
)
BY_NAME = {e.name: e for e in CATALOG}
