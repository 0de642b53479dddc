"""Tests for tutorial_lib.models.stft_codec: the STFT codec's shapes, rates and checks, its
latent standardisation, and its Griffin-Lim (against librosa)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from tutorial_lib.models.stft_codec import STFTCodec


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    return STFTCodec(n_fft=256, hop=64, width=32, downsample=2, latent_channels=4).eval()


def test_codec_shapes_rates_and_bad_inputs(codec):
    assert codec.latent_hop == 256
    x = 0.1 * torch.randn(3, 2048)
    z = codec.encode(x)
    assert z.shape == (3, 4, 8)
    assert codec.decode(z).shape == (3, 2048)
    with pytest.raises(ValueError, match="multiple of the latent hop 256"):
        codec.encode(torch.zeros(1, 1000))
    with pytest.raises(ValueError, match=r"float tensor \(B, N\)"):
        codec.encode(torch.zeros(1, 1, 2048))
    with pytest.raises(ValueError, match=r"\(B, 4, T\)"):  # latents with the wrong channel count
        codec.decode(torch.zeros(1, 16, 8))
    with pytest.raises(ValueError, match="hop"):
        STFTCodec(n_fft=64, hop=128)


def test_codec_standardisation_is_invertible(codec):
    codec.latent_mean.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0]))
    codec.latent_std.copy_(torch.tensor([2.0, 0.5, 1.0, 3.0]))
    z = torch.randn(2, 4, 8)
    torch.testing.assert_close(codec.unstandardize(codec.standardize(z)), z)
    s = codec.standardize(codec.unstandardize(torch.zeros(2, 4, 8)))
    torch.testing.assert_close(s, torch.zeros(2, 4, 8))
    assert "latent_mean" in codec.state_dict()  # saved with the weights


def test_griffin_lim_matches_librosa(codec):
    """The decoder's Griffin-Lim (zero initial phase) against librosa.griffinlim(init=None)."""
    g = torch.Generator().manual_seed(0)
    y = torch.randn(1, 2048, generator=g)
    mag = torch.stft(y, 256, 64, window=torch.hann_window(256), return_complex=True).abs()
    codec.n_iter = 8
    ours = codec.griffin_lim(mag, 2048, seed=None)[0].numpy()
    ref = librosa.griffinlim(mag[0].numpy(), n_iter=8, hop_length=64, n_fft=256, init=None,
                             momentum=0.99, length=2048)  # fmt: skip
    assert np.abs(ours - ref).max() < 1e-3 * np.abs(ref).max()
    codec.n_iter = 32
