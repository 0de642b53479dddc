"""Tests for tutorial_lib.families.guitar_latent: the latent family (the STFT codec network is
tested in test_stft_codec.py, BookCodec in test_codecs.py)."""

from __future__ import annotations

import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import checkpoints as ck
from tutorial_lib.families import guitar_latent as fam
from tutorial_lib.models.unet1d import UNet1d


def _have(name: str) -> bool:
    try:
        return ck.reference(name).path.is_file()
    except ValueError:
        return False


# ------------------------------------------------------------------------------ the family


def test_family_shape_and_sizes():
    assert fam.CHECKPOINTS[0] in fam.MODELS and fam.LENGTH % (fam.CODEC_CONFIG["hop"] * 4) == 0
    tl.families.check_family(fam)
    assert fam.build_codec().num_parameters() < 1.5e6  # a few MB in float16
    assert sum(p.numel() for p in fam.build().parameters()) < 2e6
    with pytest.raises(ValueError, match="mode"):
        fam.train_settings("slow")


def test_latents_sampling_and_decoding_with_small_networks():
    torch.manual_seed(0)
    codec = fam.build_codec().eval()
    audio = fam.clip_audio(fam.dataset(4))
    assert audio.shape == (4, 1, fam.LENGTH)
    z = fam.latents(audio, codec=codec)
    assert z.shape == (4, 16, fam.LENGTH // 512) and not z.requires_grad
    net = UNet1d(in_channels=16, channels=[16, 16], attn_levels=[], norm_groups=4).eval()
    for sampler in ("euler", "heun"):
        s = fam.sample_latents(3, steps=2, sampler=sampler, model=net)
        assert s.shape == (3, 16, 32) and torch.isfinite(s).all()
    out = fam.decode(s, codec=codec)
    assert out.shape == (3, 1, fam.LENGTH) and not out.requires_grad
    with pytest.raises(ValueError, match="another codec"):  # latents with the wrong channels
        fam.decode(torch.zeros(1, 64, 32), codec=codec)
    with pytest.raises(ValueError, match="sampler"):
        fam.sample_latents(1, steps=2, sampler="ddim", model=net)
    with pytest.raises(ValueError, match=r"\(n, 1, T\)"):
        fam.latents(torch.zeros(2, 16384), codec=codec)


@pytest.mark.skipif(not _have("guitar-codec"), reason="reference codec not shipped")
def test_reference_codec_reconstructs_within_the_measured_bound():
    """The shipped codec on held-out test notes: the bound is the benchmark's measurement
    (``guitar-codec``'s metric) plus a margin; an untrained codec is far above it."""
    scores = fam.reconstruction_scores(fam.dataset(8, "test"))
    measured = ck.reference("guitar-codec").metric
    assert scores["spectral_convergence"] < measured["spectral_convergence"] + 0.1
    untrained = fam.reconstruction_scores(fam.dataset(8, "test"), codec=fam.build_codec())
    assert untrained["spectral_convergence"] > scores["spectral_convergence"] + 0.2


@pytest.mark.skipif(not _have("guitar-latent"), reason="reference model not shipped")
def test_reference_samples_through_the_registry():
    a, sr = tl.registry.sample("guitar-latent", 2, steps=3, seed=1)
    b, _ = fam.sample(2, steps=3, seed=1)
    assert sr == fam.SR and a.shape == (2, 1, fam.LENGTH) and torch.equal(a, b)
    # sample keeps the family contract's [-1, 1]; decode does not clamp, and the codec's
    # reconstructions of 32 test notes include peaks above full scale (3 of 32 measured)
    notes = tl.data.notes(32, split="test", sr=fam.SR, families=["guitar"], seed=0)
    loud, _ = fam.sample(32, name="guitar-codec", seed=0)
    assert float(loud.abs().max()) <= 1.0 and float(a.abs().max()) <= 1.0
    assert float(fam.decode(fam.encode(notes), standardized=False).abs().max()) > 1.0
    # the numbers chapter 5 prints (Section 6), written by benchmarks/bench_latent.py
    m = ck.reference("guitar-latent").metric
    for key in ("fd", "fd_floor", "fd_ceiling", "kid", "kid_ceiling", "kid_floor", "parameters",
                "batch", "train_s_per_step", "sample_s_per_clip", "peak_mib", "codec_parameters",
                "codec_batch", "codec_train_s_per_step", "codec_peak_mib", "compression",
                "encode_s_per_audio_s", "decode_s_per_audio_s", "waveform_parameters",
                "waveform_batch", "waveform_train_s_per_step", "waveform_sample_s_per_clip",
                "waveform_peak_mib", "threads", "n_clips"):  # fmt: skip
        assert key in m, key
    # the chapter's reading: the model sits above its ceiling, the ceiling above the floor,
    # and a latent training step is far cheaper per clip than the waveform U-Net's
    assert m["fd_floor"] < m["fd_ceiling"] < m["fd"]
    assert (
        m["train_s_per_step"] / m["batch"]
        < m["waveform_train_s_per_step"] / m["waveform_batch"] / 10
    )


def test_fit_latents_on_another_codecs_latents():
    """Any codec's latents (here 6 channels, 10 frames, as Music2Latent's 1-s clips give)."""
    z = 3.0 + 2.0 * torch.randn(8, 6, 10)
    fitted = fam.fit_latents(z, steps=2, batch=4, progress=False)
    torch.testing.assert_close(fitted["mean"], z.mean(dim=(0, 2)))
    out = fam.sample_fitted(fitted, 3, steps=2)
    assert out.shape == (3, 6, 10) and not out.requires_grad
    with pytest.raises(ValueError, match="latents"):
        fam.fit_latents(torch.zeros(1, 6, 10), steps=1)


def test_the_codec_entry_describes_the_codec():
    """guitar-codec's registry numbers are the codec's own (load_codec prints them): its
    parameter count, not the latent model's, and none of the latent model's FD."""
    ref = ck.reference("guitar-codec")
    assert ref.metric["parameters"] == fam.build_codec().num_parameters()
    assert "fd" not in ref.metric and "sampler" not in ref.metric
    assert ck.reference("guitar-latent").metric["parameters"] == fam.build().num_parameters()
