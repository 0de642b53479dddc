"""tl.codecs: the codec interface, music2latent's shape contract, tagged latents, safe loading,
and BookCodec (the book's STFTCodec behind the interface).

The network is music2latent's real 58 M-parameter UNet with random weights (no download, no
network); it is built once per module and the clips are short (a quarter second), because on
one CPU thread it encodes about 0.6 s and decodes about 3.5 s per second of audio.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tutorial_lib import codecs
from tutorial_lib.models.stft_codec import STFTCodec

SR = 44100


@pytest.fixture(scope="module")
def codec():
    return codecs.Music2LatentCodec.random(seed=0)


@pytest.fixture(scope="module")
def clip():
    g = torch.Generator().manual_seed(1)
    return 0.1 * torch.randn(2, SR // 4, generator=g)  # (2, 11025): T = 2


def _trained_like(state: dict) -> dict:
    """The random weights, every tensor nudged, as training would leave them (none zero)."""
    g = torch.Generator().manual_seed(2)
    return {k: v + 1e-3 * torch.randn(v.shape, generator=g) for k, v in state.items()}


@pytest.fixture(scope="module")
def trained_state(codec):
    return _trained_like(codec.network.state_dict())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, trained_state):
    """A tensor-only music2latent.pt, with the package's structure: {'gen_state_dict': ...}."""
    path = tmp_path_factory.mktemp("m2l") / "music2latent.pt"
    torch.save({"gen_state_dict": trained_state}, path)
    return path


# ---- the package's facts, independently ------------------------------------------------------
def test_constants_match_the_package():
    from music2latent import hparams

    factor = 2 ** hparams.freq_downsample_list.count(0)
    assert codecs.MUSIC2LATENT_HOP == hparams.hop * factor == 4096
    assert codecs.Music2LatentCodec.sample_rate == hparams.sample_rate == 44100
    assert codecs.Music2LatentCodec.channels == hparams.bottleneck_channels == 64
    assert codecs.MUSIC2LATENT_MIN_LENGTH == 3 * hparams.hop + hparams.hop * factor == 5632


def test_importing_the_module_does_not_import_music2latent():
    import subprocess
    import sys

    code = "import sys, tutorial_lib.codecs; print('music2latent' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- the shape contract ------------------------------------------------------------------------
def test_latent_rate_and_name(codec):
    assert codec.latent_rate == pytest.approx(44100 / 4096)  # 10.77 frames per second
    assert "random" in codec.name and "untrained" in codec.name
    assert codec.name in repr(codec)


@pytest.mark.parametrize("n", [5632, 9727, 9728])  # 1 frame; last length of 1 frame; 2 frames
def test_latent_shape_formula(codec, n):
    x = 0.1 * torch.randn(n, generator=torch.Generator().manual_seed(n))
    z = codec.encode(x)
    assert z.shape == (1, 64, ((n - 1536) // 512) // 8) == (1, 64, codec.latent_length(n))
    assert z.dtype == torch.float32 and not z.requires_grad


def test_batch_matches_one_by_one_and_numpy_works(codec, clip):
    z = codec.encode(clip)
    assert z.shape == (2, 64, 2)
    assert torch.allclose(codec.encode(clip[1]), z[1:], atol=1e-5)
    assert torch.allclose(codec.encode(clip.numpy().astype(np.float64), sr=SR), z, atol=1e-5)


def test_decode_length_seed_and_no_autograd(codec, clip):
    x = clip[:1].clone().requires_grad_(True)
    z = codec.encode(x)
    assert not z.requires_grad
    y = codec.decode(z)
    assert y.shape == (1, 4096 * 2 + 1536)  # the package's own length: the cropped clip
    assert not y.requires_grad and y.dtype == torch.float32
    y_long = codec.decode(z, length=clip.shape[-1], seed=0)
    assert y_long.shape == (1, clip.shape[-1])
    assert torch.equal(y_long[:, : y.shape[-1]], y)  # same seed, same noise
    assert not y_long[:, y.shape[-1] :].any()  # zero padding after the encoded part
    assert codec.decode(z, length=1000).shape == (1, 1000)
    assert not torch.equal(codec.decode(z, seed=1), y)  # the seed draws the starting noise
    assert all(not p.requires_grad for p in codec.network.parameters())


# ---- bad inputs ---------------------------------------------------------------------------------
def test_bad_audio_is_refused_clearly(codec, clip):
    with pytest.raises(ValueError, match=r"audio: expected mono audio of shape \(N,\) or \(B, N\)"):
        codec.encode(clip[:, None, :])
    with pytest.raises(TypeError, match="load the audio first"):
        codec.encode(Path("drums.wav"))
    with pytest.raises(TypeError, match="load the audio first"):
        codec.encode("drums.wav")
    with pytest.raises(ValueError, match="audio: too short.*need at least 5632"):
        codec.encode(torch.zeros(5631))
    with pytest.raises(ValueError, match=r"sr: .*44100 Hz, got 16000 Hz.*resample"):
        codec.encode(clip, sr=16000)
    with pytest.raises(TypeError, match="audio: expected float samples"):
        codec.encode(np.zeros(8000, dtype=np.int16))
    with pytest.raises(ValueError, match=r"looks like \(N, B\)"):
        codec.encode(clip.T)
    with pytest.raises(ValueError, match="NaN"):
        codec.encode(torch.full((6000,), float("nan")))


def test_bad_latents_are_refused_clearly(codec):
    with pytest.raises(ValueError, match=r"latents: expected 64 latent channels.*got 32"):
        codec.decode(torch.zeros(1, 32, 2))
    with pytest.raises(ValueError, match=r"latents: expected latents of shape \(B, channels, T\)"):
        codec.decode(torch.zeros(64, 2))
    with pytest.raises(TypeError, match="latents: expected floating-point"):
        codec.decode(torch.zeros(1, 64, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="length"):
        codec.decode(torch.zeros(1, 64, 1), length=0)


# ---- latents tagged with their codec --------------------------------------------------------------
def test_latents_of_two_codecs_are_never_mixed(codec, tmp_path):
    z = torch.zeros(1, 64, 1)
    a = codec.tag(z, length=6000)
    other = codecs.Latents(z, "another codec", SR, 4096)
    assert codecs.check_same_codec(a, codec.tag(z)) == codec.name
    with pytest.raises(ValueError, match="cannot be mixed"):
        codecs.check_same_codec(a, other)
    with pytest.raises(ValueError, match="cannot be mixed"):
        codecs.Latents.cat([a, other])
    with pytest.raises(ValueError, match="latents: made by codec 'another codec'"):
        codec.decode(other)
    both = codecs.Latents.cat([a, codec.tag(z, length=6000)])
    assert both.shape == (2, 64, 1) and both.length == 6000
    path = a.save(tmp_path / "z.safetensors")
    back = codecs.Latents.load(path, codec=codec)
    assert back.codec == codec.name and back.length == 6000 and torch.equal(back.tensor, z)
    with pytest.raises(ValueError, match="made by codec"):
        codecs.Latents.load(path, codec="another codec")
    assert codec.decode(back).shape == (1, 6000)  # the stored length comes back


# ---- loading checkpoints safely ---------------------------------------------------------------
def test_from_checkpoint_loads_a_tensor_only_file(checkpoint, trained_state, clip):
    loaded = codecs.Music2LatentCodec.from_checkpoint(checkpoint)
    assert loaded.name.startswith("music2latent (music2latent.pt, sha256 ")
    state = loaded.network.state_dict()
    assert all(torch.equal(state[k], v) for k, v in trained_state.items())
    assert loaded.encode(clip[0]).shape == (1, 64, 2)


@pytest.mark.parametrize("breakage", ["shape", "missing", "untrained", "dead_output"])
def test_from_checkpoint_refuses_wrong_or_untrained_weights(
    tmp_path, codec, trained_state, breakage
):
    state = dict(trained_state)
    if breakage == "shape":
        state["conv_out.bias"] = torch.zeros(3)
        match = (
            r"does not fit.*1 with the wrong shape \(conv_out.bias \(file \(3,\), model \(2,\)\)\)"
        )
    elif breakage == "missing":
        del state["encoder.conv_inp.weight"]
        match = r"does not fit.*1 missing \(encoder.conv_inp.weight"
    elif breakage == "untrained":
        state = codec.network.state_dict()  # the random init itself
        match = "looks untrained"
    else:
        state["conv_out.weight"] = torch.zeros_like(state["conv_out.weight"])
        match = "looks untrained"
    path = tmp_path / "music2latent.pt"
    torch.save({"gen_state_dict": state}, path)
    with pytest.raises(ValueError, match=match):
        codecs.Music2LatentCodec.from_checkpoint(path)


class _Marker:
    """A non-tensor object in a checkpoint; unpickling it leaves a trace."""

    unpickled: list[int] = []

    def __setstate__(self, state):
        _Marker.unpickled.append(1)
        self.__dict__.update(state)


def test_a_pickle_is_only_unpickled_with_the_trusted_hash(tmp_path, trained_state):
    import hashlib

    path = tmp_path / "music2latent.pt"
    marker = _Marker()
    marker.note = "hello"
    torch.save({"gen_state_dict": trained_state, "extra": marker}, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _Marker.unpickled.clear()
    with pytest.raises(ValueError, match=rf"holds Python objects.*_Marker.*{digest}.*sha256="):
        codecs.Music2LatentCodec.from_checkpoint(path)
    with pytest.raises(ValueError, match="not the sha256 you passed"):
        codecs.Music2LatentCodec.from_checkpoint(path, sha256="0" * 64)
    assert _Marker.unpickled == []  # refused without running its code
    loaded = codecs.Music2LatentCodec.from_checkpoint(path, sha256=digest.upper())
    assert _Marker.unpickled == [1]
    assert digest[:12] in loaded.name
    with pytest.raises(ValueError, match="sha256: expected 64 hex digits"):
        codecs.Music2LatentCodec.from_checkpoint(path, sha256="abc")


def test_from_checkpoint_refuses_files_that_are_not_checkpoints(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        codecs.Music2LatentCodec.from_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"model": [1, 2]}, other)
    with pytest.raises(ValueError, match="not a music2latent checkpoint.*gen_state_dict"):
        codecs.Music2LatentCodec.from_checkpoint(other)
    with pytest.raises(FileNotFoundError, match="CC BY-NC 4.0"):
        codecs.Music2LatentCodec.from_checkpoint(tmp_path / "missing.pt")


# ---- finding the pretrained weights -------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.delenv(codecs.ENV_CHECKPOINT, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(codecs, "_package_locations", lambda: [tmp_path / "music2latent.pt"])


def test_pretrained_offline_with_nothing_on_disk_fails_fast(offline):
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="MUSIC2LATENT_CHECKPOINT unset.*CC BY-NC 4.0"):
        codecs.Music2LatentCodec.pretrained()
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE=1"):
        codecs.Music2LatentCodec.pretrained(download=True)
    assert time.perf_counter() - start < 5


def test_pretrained_uses_the_environment_variable(offline, monkeypatch, checkpoint, tmp_path):
    monkeypatch.setenv(codecs.ENV_CHECKPOINT, str(tmp_path / "nowhere.pt"))
    with pytest.raises(FileNotFoundError, match="MUSIC2LATENT_CHECKPOINT: points to"):
        codecs.Music2LatentCodec.pretrained()
    monkeypatch.setenv(codecs.ENV_CHECKPOINT, str(checkpoint))
    assert "sha256" in codecs.Music2LatentCodec.pretrained().name


def test_the_package_locations_are_on_disk_only():
    from music2latent.hparams_inference import load_path_inference_default

    places = codecs._package_locations()
    assert Path(load_path_inference_default) == places[0]


# ---- the book's codec behind the interface ------------------------------------------------------
@pytest.fixture(scope="module")
def stft_codec():
    """A small untrained STFTCodec (chapter 5's network): 4 channels, a 256-sample hop."""
    torch.manual_seed(0)
    return STFTCodec(n_fft=256, hop=64, width=32, downsample=2, latent_channels=4).eval()


def test_book_codec_behind_the_codec_interface(stft_codec):
    book = codecs.BookCodec(stft_codec, sample_rate=16000, name="book codec (test)")
    assert book.channels == 4 and book.hop == 256 and book.latent_rate == 62.5
    assert book.latent_length(1000) == 4  # padded to whole frames
    z = book.encode(0.1 * np.random.default_rng(0).standard_normal(1000).astype(np.float32))
    assert z.shape == (1, 4, 4) and not z.requires_grad
    assert book.decode(z, length=1000).shape == (1, 1000)
    with pytest.raises(ValueError, match="resample"):  # the wrong sample rate
        book.encode(np.zeros(2048, np.float32), sr=44100)
    other = codecs.BookCodec(stft_codec, sample_rate=16000, name="another codec")
    with pytest.raises(ValueError, match="never mixed"):  # latents of two codecs
        other.decode(book.tag(z))
    with pytest.raises(TypeError, match="STFTCodec"):
        codecs.BookCodec(torch.nn.Linear(2, 2), sample_rate=16000, name="x")
