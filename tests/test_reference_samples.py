"""Every shipped checkpoint loads and samples as it did (issue 28, "keep behaviour").

For each reference checkpoint of ``src/tutorial_lib/weights/registry.json`` (each one is a
model of the registry, so ``tl.registry.sample`` reaches it through its family's ``sample``):
load it, sample a tiny batch with a fixed seed and two steps, and compare a fingerprint of
the clips with the one stored in ``tests/data/reference_samples.json``. The fingerprint is a
few statistics of the audio (mean, mean absolute value, RMS, peak, and two weighted means
that change when samples move in time or change sign), compared with a tolerance relative to
the clips' RMS, not the raw bytes: another CPU's arithmetic (vector width, thread count,
library versions) changes the last bits but not four significant digits. A refactoring that
changes what a model samples (a different seed, step, schedule or scale) fails here and
names the model.

When a model is retrained on purpose (a new file in the registry), rewrite the fingerprints
and say why in the commit:

    TUTORIAL_MODE=fast python tests/test_reference_samples.py --update
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from tutorial_lib import checkpoints, registry

FINGERPRINTS = Path(__file__).resolve().parent / "data" / "reference_samples.json"
#: Clips per model, steps and seed of every fingerprint (a tiny batch: the test takes seconds).
N, STEPS, SEED = 2, 2, 0
#: Models whose clips are long (several segments of notes): one clip.
N_OF = {"midi-synth": 1, "midi-synth-nocontext": 1}
#: Tolerance of each statistic, relative to the stored clips' RMS (and to the statistic).
RTOL = 1e-4


def fingerprint(audio: torch.Tensor, sr: int) -> dict[str, object]:
    """A few statistics of ``audio`` ``(n, C, T)`` that any change of the samples moves."""
    x = audio.detach().double().cpu()
    ramp = torch.linspace(-1.0, 1.0, x.shape[-1], dtype=torch.float64)
    wave = torch.cos(torch.arange(x.shape[-1], dtype=torch.float64) * 0.37)
    per_clip = x.reshape(x.shape[0], -1).pow(2).mean(dim=1).sqrt()
    return {
        "shape": list(x.shape),
        "sr": int(sr),
        "mean": float(x.mean()),
        "abs_mean": float(x.abs().mean()),
        "rms": float(x.pow(2).mean().sqrt()),
        "peak": float(x.abs().max()),
        "ramp": float((x * ramp).mean()),
        "wave": float((x * wave).mean()),
        "clip_rms": [float(v) for v in per_clip],
    }


def sample_fingerprint(name: str) -> dict[str, object]:
    """The fingerprint of ``registry.sample(name)`` with the fixed settings above."""
    audio, sr = registry.sample(name, N_OF.get(name, N), steps=STEPS, seed=SEED, device="cpu")
    return fingerprint(audio, sr)


def differences(got: dict[str, object], want: dict[str, object]) -> list[str]:
    """What differs between two fingerprints beyond float noise (empty: the same)."""
    if got["shape"] != want["shape"] or got["sr"] != want["sr"]:
        return [f"shape/sr {got['shape']}/{got['sr']}, stored {want['shape']}/{want['sr']}"]
    scale = max(float(want["rms"]), 1e-6)
    out = []
    for key in ("mean", "abs_mean", "rms", "peak", "ramp", "wave", "clip_rms"):
        g, w = got[key], want[key]
        for i, (a, b) in enumerate(zip(g, w, strict=True) if isinstance(g, list) else [(g, w)]):
            if not math.isclose(a, b, rel_tol=RTOL, abs_tol=RTOL * scale):
                out.append(f"{key}{'' if not isinstance(g, list) else f'[{i}]'} {a:.6g}, "
                           f"stored {b:.6g}")  # fmt: skip
    return out


def _shipped() -> list[str]:
    return sorted(checkpoints.references())


def _stored() -> dict[str, dict[str, object]]:
    return json.loads(FINGERPRINTS.read_text(encoding="utf-8"))


def test_every_shipped_checkpoint_has_a_fingerprint():
    stored = _stored()
    missing = [n for n in _shipped() if n not in stored]
    assert not missing, (
        f"{missing}: shipped checkpoints without a stored fingerprint. Fix: TUTORIAL_MODE=fast "
        f"python tests/test_reference_samples.py --update, and say why in the commit"
    )
    stale = [n for n in stored if n not in _shipped()]
    assert not stale, f"{stale}: fingerprints of checkpoints the registry no longer ships"
    sampleable = registry.models()
    assert all(n in sampleable for n in _shipped()), "every shipped checkpoint samples by name"


@pytest.mark.parametrize("name", _shipped())
def test_shipped_checkpoint_samples_as_stored(name):
    want = _stored().get(name)
    if want is None:
        pytest.fail(f"{name}: no stored fingerprint (see the test above)")
    got = sample_fingerprint(name)
    diff = differences(got, want)
    assert not diff, (
        f"{name} no longer samples as it did (seed {SEED}, {STEPS} steps): "
        + "; ".join(diff)
        + ". A refactoring must keep every shipped model's samples; a deliberate change "
        "rewrites the fingerprints (see this file's docstring)."
    )


def test_the_comparison_tolerates_float_noise_and_catches_a_change():
    """The tolerance passes last-bit noise and refuses a change a refactoring could make."""
    x = torch.randn(2, 1, 4096, generator=torch.Generator().manual_seed(0)) * 0.3
    want = fingerprint(x, 16000)
    noisy = x * (1 + 1e-6 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1)))
    assert differences(fingerprint(noisy, 16000), want) == []
    assert differences(fingerprint(x * 1.001, 16000), want)  # a level change
    assert differences(fingerprint(torch.roll(x, 1, dims=-1), 16000), want)  # a shift in time
    assert differences(fingerprint(x.flip(0), 16000), want)  # clips in another order
    assert differences(fingerprint(x[..., :-1], 16000), want)  # another length


def _update() -> None:
    def rounded(value: object) -> object:  # 9 significant digits: far below the tolerance
        if isinstance(value, list):
            return [rounded(v) for v in value]
        return float(f"{value:.9g}") if isinstance(value, float) else value

    data = {
        name: {k: rounded(v) for k, v in sample_fingerprint(name).items()} for name in _shipped()
    }
    with checkpoints.atomic_write(FINGERPRINTS, "w") as f:
        f.write(json.dumps(data, indent=1) + "\n")
    print(f"wrote {FINGERPRINTS} ({len(data)} models)")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    _update()
