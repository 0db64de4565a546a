"""The sound set: correct BatchNorm1d implementations that compute in other legitimate ways than the oracle.

The mutant set (``tests/mutants``) shows that the suite fails wrong code; this set shows that it
never fails right code. Each implementation computes torch.nn.BatchNorm1d's semantics exactly,
but with another algorithm, summation order or precision than the float64 two-pass oracle:
Welford's update, torch's own var, Chan's block merge, shifted sums, compensated sums, strictly
sequential sums, the fused output x * a + b, exact float64 sums; most of them in float32 for
float32 input, as real kernels do. Their rounding differs from the oracle's by what the error
model must allow, so a correct algorithm that fails a property is a bug in the suite (usually in
``conformance/tolerances.py``), never in the algorithm.

``tests/test_sound_set.py`` runs a fast slice in CI; ``benchmarks/sound_sweep.py`` the full sweep.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sound:
    name: str  # snake_case
    spec: str  # an --impl spec
    algorithm: str  # one line: how it computes
    dtypes: tuple[str, ...]  # the dtypes it declares (conformance_dtypes)


CORE = ("float32", "float64")
ALL = ("float32", "float64", "float16", "bfloat16")

SOUND: tuple[Sound, ...] = (
    Sound("welford", "tests.sound.numpy_kernels:Welford",
          "Welford's update, one value at a time in input order, in the input's dtype (NumPy)", CORE),
    Sound("torch_var", "tests.sound.torch_kernels:TorchVar",
          "torch's x.var(dims, unbiased=False) and x.mean(dims) in the working dtype, direct output form", ALL),
    Sound("block_merge", "tests.sound.numpy_kernels:BlockMerge",
          "blocks of 256 values, per-block mean and M2 in float32, Chan's pairwise merge tree (NumPy)", ALL),
    Sound("shifted_one_pass", "tests.sound.numpy_kernels:ShiftedOnePass",
          "shift by the channel's first value, one sequential pass (last value first) summing d and d*d "
          "in the working dtype (NumPy)", CORE),
    Sound("kahan", "tests.sound.numpy_kernels:Kahan",
          "two-pass with Kahan-compensated sums taken last value first, in the working dtype (NumPy)", CORE),
    Sound("left_to_right", "tests.sound.numpy_kernels:LeftToRight",
          "two-pass with strictly sequential sums (np.add.accumulate) in the working dtype (NumPy)", CORE),
    Sound("strided_fused", "tests.sound.torch_kernels:StridedFused",
          "two-pass sums over 8 strided lanes in the working dtype, fused output x*a + b (torch)", ALL),
    Sound("fsum64", "tests.sound.numpy_kernels:Fsum64",
          "float64 statistics summed exactly with math.fsum, output rounded to the input dtype (NumPy)", CORE),
    Sound("strided_lanes_fused", "tests.sound.numpy_kernels:StridedLanesFused",
          "float32 only: 32 strided lanes folded left with Chan's merge, fused output x*a + b (NumPy)", ("float32",)),
)
