"""Tests for chapter 4: tutorial_lib.families.drums_mel and the picture helpers of tutorial_lib.mel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import tutorial_lib as tl
from tutorial_lib import checkpoints as ck
from tutorial_lib import registry
from tutorial_lib.families import drums_mel as fam

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clips():
    return fam.dataset(4, "test")


@pytest.fixture(scope="module")
def tiny():
    """A small random network of the family's image size (fast; its outputs are not zero)."""
    torch.manual_seed(0)
    net = tl.models.unet2d.UNet2d(channels=[8, 16], attn_levels=[1], emb_dim=16)
    for p in net.out.parameters():
        torch.nn.init.normal_(p, std=0.02)
    return net.eval()


def _have_reference() -> bool:
    try:
        return ck.reference("drums-mel").path.is_file()
    except ValueError:
        return False


# --------------------------------------------------------------------------- the family


def test_registered_with_the_family_shape():
    tl.families.check_family(fam)
    assert "drums-mel" in registry.recipes() and "drums-mel" in registry.models()
    net = fam.build()
    assert net.config == fam.CONFIG
    assert 2 * net.num_parameters() < 4 * 2**20  # a float16 checkpoint of a few MB
    assert fam.MEL["x_res"] * fam.MEL["hop_length"] - 1 <= fam.LENGTH  # one clip = one image
    with pytest.raises(ValueError, match="mode"):
        fam.train_settings("huge")


def test_images_and_audio_shapes_ranges_and_level(clips):
    x = fam.images(clips)
    assert x.shape == (4, 1, 64, 64) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    torch.testing.assert_close(x, tl.mel.to_unit(tl.mel.to_images(clips.tensors(), fam.mel())))
    assert np.array_equal(tl.mel.from_unit(x), tl.mel.to_images(clips.tensors(), fam.mel()))
    audio = fam.to_audio(x)
    assert audio.shape == (4, 1, fam.LENGTH) and torch.isfinite(audio).all()
    torch.testing.assert_close(audio.abs().amax(dim=(1, 2)), torch.full((4,), fam.PEAK))
    # each image alone: the first 8191 samples of its clip, through the seed's Mel
    m = fam.mel()
    m.load_audio(raw_audio=clips.tensors()[1, 0].numpy().astype(np.float64))
    assert tl.mel.from_unit(x)[1].tobytes() == m.audio_slice_to_image(0).tobytes()


def test_picture_helpers_refuse_bad_input(clips):
    m = fam.mel()
    with pytest.raises(ValueError, match="silent"):
        tl.mel.to_images(torch.zeros(2, 1, fam.LENGTH), m)
    with pytest.raises(ValueError, match="mono"):
        tl.mel.to_images(torch.zeros(2, 2, fam.LENGTH), m)
    with pytest.raises(ValueError, match="float clips"):
        tl.mel.to_images(np.zeros((2, fam.LENGTH), dtype=np.int16), m)
    with pytest.raises(TypeError, match="Mel"):
        tl.mel.to_images(clips.tensors(), None)
    with pytest.raises(ValueError, match="shorter than one slice"):  # audio shorter than a slice
        tl.mel.to_images(clips.tensors()[..., :4000], m)
    with pytest.raises(ValueError, match="shorter than one slice"):
        tl.mel.round_trip(np.ones(4000) * 0.1, m)
    with pytest.raises(TypeError, match="uint8"):
        tl.mel.to_unit(np.zeros((1, 64, 64)))
    with pytest.raises(TypeError, match=r"\(n, 1, H, W\)"):
        tl.mel.from_unit(torch.zeros(64, 64))
    with pytest.raises(ValueError, match="peak"):
        tl.mel.images_to_audio(np.zeros((1, 64, 64), dtype=np.uint8), m, peak=2.0)
    with pytest.raises(TypeError, match="uint8"):  # Mel.image_to_audio's own check
        tl.mel.images_to_audio(np.zeros((1, 64, 64)), m)
    with pytest.raises(ValueError, match=r"\(y_res, x_res\)"):  # an image of the wrong size
        tl.mel.images_to_audio(np.zeros((1, 64, 32), dtype=np.uint8), m)


def test_round_trip_separates_the_losses(clips):
    m = fam.mel()
    y = clips.tensors()[2, 0].numpy().astype(np.float64)
    y_slice = torch.from_numpy(y[: m.slice_size])

    def sc(**kw):
        rec = torch.from_numpy(tl.mel.round_trip(y, m, **kw)).double()
        return tl.metrics.spectral_convergence(y_slice, rec, n_fft=512, hop_length=128)

    # nothing lost but what lies more than top_db below the loudest bin (clipped)
    assert sc(mel_scale=False, quantize=False, phase="true") < 1e-3
    # everything on: exactly the seed's image route, scaled to the slice's RMS
    m.load_audio(raw_audio=y)
    ref = m.image_to_audio(m.audio_slice_to_image(0))
    got = tl.mel.round_trip(y, m)
    ref = np.pad(ref, (0, m.slice_size - len(ref)))
    ref = ref * np.sqrt(np.mean(y[: m.slice_size] ** 2) / np.mean(ref**2))
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # each loss costs something, the phase most
    assert sc(mel_scale=False, phase="true") < sc(phase="true") < sc()
    assert sc(phase="true") < sc(mel_scale=False, quantize=False)
    with pytest.raises(ValueError, match="phase"):
        tl.mel.round_trip(y, m, phase="zero")
    with pytest.raises(ValueError, match="silent"):
        tl.mel.round_trip(np.zeros(fam.LENGTH), m)


def test_whistle_measures():
    """The whistle's cause, measured: a 512-point FFT with 128 bands at 44.1 kHz (bins 86 Hz
    apart) leaves empty filters and a comb of +-10 dB (and holes below -40 dB) in the inversion;
    the seed's 2048 / 256 is flat within 1 dB below the top few bins."""
    assert tl.mel.empty_filters(44100, 512, 128) > 0 and tl.mel.empty_filters(44100, 4096, 256) == 0
    bad, good = tl.mel.inversion_gain(44100, 512, 128), tl.mel.inversion_gain(44100, 2048, 256)
    assert bad.shape == (255,) and good.shape == (1023,)
    assert bad.std() > 5 and bad.min() < -40 and bad.max() > 6
    assert good.std() < 1 and np.percentile(np.abs(good), 98) < 1  # (the last bins roll off)
    # the gain is what a round trip with the true phase does to white noise, on average
    noise = np.random.default_rng(0).standard_normal(44100)
    m = tl.mel.Mel(x_res=86, y_res=128, sample_rate=44100, n_fft=512, hop_length=512)
    with pytest.warns(UserWarning, match="Empty filters"):
        rec = tl.mel.round_trip(noise, m, phase="true")
    with pytest.raises(ValueError, match="n_fft"):
        tl.mel.inversion_gain(44100, 2, 64)
    assert rec.shape == (m.slice_size,)


# --------------------------------------------------------------------------- capabilities


def test_seed_controls_all_the_noise_of_variations_and_inpainting(clips, tiny):
    """With eta > 0 each DDIM step draws fresh noise: it comes from ``seed`` (the pipeline's
    ``step_generator``), not from the global generator, so the same seed gives the same
    output and another seed another output."""
    x0 = fam.images(clips)[:2]
    mask = fam.frames_mask(2, slice(0, 32))
    for run in (
        lambda seed: fam.variations(x0, 5, steps=8, eta=1.0, seed=seed, model=tiny),
        lambda seed: fam.inpaint(x0, mask, steps=8, eta=1.0, seed=seed, model=tiny),
    ):
        torch.manual_seed(1)
        a = run(3)
        torch.manual_seed(2)  # a different global state: must not matter
        b = run(3)
        c = run(4)
        assert torch.equal(a, b) and not torch.equal(a, c)


def test_variations_inpainting_and_bad_arguments(clips, tiny):
    x0 = fam.images(clips)[:2]
    v = fam.variations(x0, 8, steps=10, model=tiny)
    assert v.shape == x0.shape and torch.isfinite(v).all()
    near, far = (
        fam.variations(x0, 9, steps=10, model=tiny),
        fam.variations(x0, 1, steps=10, model=tiny),
    )
    assert float((near - x0).abs().mean()) < float((far - x0).abs().mean())
    for bad in (-1, 10):
        with pytest.raises(ValueError, match="start_step"):
            fam.variations(x0, bad, steps=10, model=tiny)
    # masks per batch item: keep the start of one, the end of the other
    mask = torch.cat([fam.frames_mask(1, slice(0, 16)), fam.frames_mask(1, slice(48, 64))])
    out = fam.inpaint(x0, mask, steps=10, model=tiny)
    keep = mask.expand_as(out)
    torch.testing.assert_close(out[keep], x0[keep])
    assert float((out[~keep] - x0[~keep]).abs().mean()) > 0.05
    late = fam.inpaint(x0, mask, steps=10, start_step=8, model=tiny)
    torch.testing.assert_close(late[keep], x0[keep])
    with pytest.raises(ValueError, match="reaches past"):
        fam.frames_mask(1, slice(0, 80))  # a mask longer than the clip
    with pytest.raises(ValueError, match="64 booleans"):
        fam.frames_mask(1, [True] * 10)
    with pytest.raises(ValueError, match=r"\(n, 1, 64, 64\)"):  # x_res not the model's
        fam.variations(torch.zeros(1, 1, 64, 32), 1, steps=10, model=tiny)
    with pytest.raises(ValueError, match="sampler"):
        fam.sample(1, steps=1, sampler="euler")


def test_encode_decode_and_interpolate_with_a_small_network(clips, tiny):
    x0 = fam.images(clips)[:1]
    z = fam.encode(x0, steps=20, model=tiny)
    assert z.shape == x0.shape and torch.isfinite(z).all()

    class Smooth(torch.nn.Module):  # a noise estimate that varies smoothly with x and t
        def forward(self, x, t):
            return 0.5 * x * (1 - t.view(-1, 1, 1, 1))

    errors = [float((fam.decode(fam.encode(x0, steps=s, model=Smooth()), steps=s, model=Smooth())
                     - x0).abs().mean()) for s in (10, 40)]  # fmt: skip
    assert errors[1] < 0.1 and errors[1] < errors[0] / 3, errors  # first order: 1/steps
    a, b = torch.randn(1, 1, 64, 64), torch.randn(1, 1, 64, 64)
    imgs = fam.interpolate(a, b, [0.0, 1.0], steps=3, model=tiny)
    torch.testing.assert_close(imgs[:1], fam.decode(a, steps=3, model=tiny))
    torch.testing.assert_close(imgs[1:], fam.decode(b, steps=3, model=tiny))


@pytest.mark.skipif(not _have_reference(), reason="reference checkpoint not shipped")
def test_reference_inverts_a_training_image_within_the_measured_bound():
    """DDIM inversion then generation at eta = 0 with the shipped model: the picture comes back
    within 2 dB on average at 100 steps (measured 1.3 dB on four training images; 2.6 dB at
    50 steps, 0.65 dB at 200; chapter 4 plots the curve)."""
    x0 = fam.images(fam.dataset(1))  # a training image
    back = fam.decode(fam.encode(x0, steps=100), steps=100)
    error_db = float((back - x0).abs().mean()) * fam.MEL["top_db"] / 2
    assert error_db < 2.0


@pytest.mark.skipif(not _have_reference(), reason="reference checkpoint not shipped")
def test_reference_samples_through_the_registry():
    ref = ck.reference("drums-mel")
    assert ref.config == fam.CONFIG and ref.recipe == fam.RECIPE
    a, sr = registry.sample("drums-mel", 2, steps=3, seed=1)
    b, _ = fam.sample(2, steps=3, seed=1)
    assert sr == fam.SR and a.shape == (2, 1, fam.LENGTH) and torch.equal(a, b)
    # the numbers chapter 4 prints (Section 5), written by the benchmark
    for key in ("fd", "fd_floor", "fd_ceiling", "kid", "train_s_per_step", "sample_s_per_clip",
                "peak_mib", "parameters", "batch", "waveform_fd", "waveform_uncond_fd",
                "waveform_train_s_per_step", "waveform_sample_s_per_clip", "waveform_peak_mib",
                "waveform_parameters", "waveform_batch", "threads", "n_clips",
                "sampler_steps", "waveform_sampler_steps"):  # fmt: skip
        assert key in ref.metric, key
    assert ref.metric["fd_floor"] < ref.metric["fd_ceiling"]


def test_benchmark_registers_what_the_chapter_reads(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "bench", ROOT / "benchmarks/bench_mel_vs_waveform.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tl.checkpoints.save(
        tmp_path / "drums-mel.safetensors", fam.build(), config=fam.CONFIG,
        metadata={"steps": 7, "final_loss": 0.1}, dtype=torch.float16,
    )  # fmt: skip
    numbers = {"fd": 9.0, "fd_floor": 1.0, "fd_ceiling": 3.0, "seconds": 5.0}
    ref = bench._register(tl, path, numbers, weights_dir=tmp_path / "weights")
    assert ref.steps == 7 and ref.metric["fd_ceiling"] == 3.0 and "seconds" not in ref.metric
    assert ref.metric["final_loss"] == 0.1


def test_the_network_predicts_v_and_the_sampler_follows(tiny):
    """The recipe trains what the samplers assume (v, chapter 4's diagnosis), and a network
    that predicts something else can still be sampled by saying so."""
    assert fam.PREDICTION == "v" and fam.train_settings("fast")["prediction"] == fam.PREDICTION
    noise = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    as_v = fam.sample_images(2, 3, model=tiny, noise=noise)
    as_eps = fam.sample_images(2, 3, model=tiny, noise=noise, prediction="eps")
    torch.testing.assert_close(as_v, fam.sample_images(2, 3, model=tiny, noise=noise,
                                                       prediction="v"))  # fmt: skip
    assert not torch.allclose(as_v, as_eps)
    with pytest.raises(ValueError, match="prediction"):
        fam.sample_images(2, 3, model=tiny, prediction="noise")


@pytest.mark.skipif(not _have_reference(), reason="no drums-mel checkpoint")
def test_the_shipped_reference_was_trained_to_predict_what_the_family_samples():
    meta = ck.load(ck.reference("drums-mel").path)[2]
    assert meta.get("setting_prediction", "eps") == fam.PREDICTION, meta.get("setting_prediction")


# --------------------------------------------------------------------------- conditional


@pytest.fixture(scope="module")
def tiny_cond():
    """A small random class-conditional network (the family's classes)."""
    torch.manual_seed(0)
    net = tl.models.unet2d.UNet2d(channels=[8, 16], attn_levels=[1], emb_dim=16,
                                  classes=list(fam.SOUNDS))  # fmt: skip
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


def test_conditional_checkpoint_is_the_same_network_told_the_class():
    assert fam.CHECKPOINTS == ("drums-mel", "drums-mel-cond")
    assert fam.config_of("drums-mel-cond") == {**fam.CONFIG, "classes": list(fam.SOUNDS)}
    assert fam.config_of("drums-mel") is fam.CONFIG
    assert fam.train_settings("book")["class_dropout"] == 0.1
    assert "drums-mel-cond" in registry.models()
    with pytest.raises(ValueError, match="name"):
        fam.config_of("drums-unet")


def test_conditional_sampling_is_guided_ddim_with_the_asked_classes(tiny_cond):
    """sample_images(classes=...) is DDIM on u + w (c - u) (classifier-free guidance, written
    out here), "cycle" is the classes in turn, guidance 1 is the conditional network alone."""
    n, steps, w = 5, 4, 2.5
    labels = torch.arange(n) % len(fam.SOUNDS)

    def by_hand(x, t):
        u = tiny_cond(x, t)
        return u + w * (tiny_cond(x, t, labels) - u)

    noise = torch.randn(n, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    # a guided step moves along the noise of the clamped picture (clipped_eps)
    want = tl.samplers.ddim_sample(by_hand, noise, fam.alpha_bars(), steps=steps,
                                   clip_x0=fam.SAMPLING["clip_x0"], prediction=fam.PREDICTION,
                                   clipped_eps=True)  # fmt: skip
    got = fam.sample_images(n, steps, 0, model=tiny_cond, classes="cycle", guidance=w)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    names = [fam.SOUNDS[i] for i in labels]
    assert torch.equal(got, fam.sample_images(n, steps, 0, model=tiny_cond, classes=names,
                                              guidance=w))  # fmt: skip
    plain = tl.samplers.ddim_sample(lambda x, t: tiny_cond(x, t, "snare"), noise[:2],
                                    fam.alpha_bars(), steps=steps, clip_x0=1.0,
                                    prediction=fam.PREDICTION)  # fmt: skip
    torch.testing.assert_close(
        fam.sample_images(2, steps, 0, model=tiny_cond, classes="snare", guidance=1.0), plain,
        rtol=0, atol=1e-5,
    )  # fmt: skip
    assert not torch.equal(fam.sample_images(2, steps, 0, model=tiny_cond), plain)


def test_only_a_guided_step_takes_the_noise_of_the_clamped_picture():
    """clamp_options: clipped_eps exactly when two predictions are mixed (labels, w not 0 or
    1); the seed's step (network's noise kept) for the unconditional model and w = 0 or 1."""
    labels = torch.tensor([0, 1])
    assert fam.clamp_options(None, 3.0) == {"clip_x0": 1.0, "clipped_eps": False}
    for w, mixed in ((0.0, False), (1.0, False), (1.5, True), (3.0, True)):
        assert fam.clamp_options(labels, w) == {"clip_x0": 1.0, "clipped_eps": mixed}
    assert fam.clamp_options(labels)["clipped_eps"] == (fam.SAMPLING["guidance"] not in (0, 1))
    with pytest.raises(ValueError, match="guidance"):
        fam.clamp_options(labels, -1.0)


def test_classes_are_refused_where_they_cannot_be_meant(tiny, tiny_cond):
    assert fam.labels_of(tiny, "cycle", 3) is None and fam.labels_of(tiny_cond, None, 3) is None
    assert fam.labels_of(tiny_cond, ["kick", -1], 2).tolist() == [0, -1]
    with pytest.raises(ValueError, match="classes: the model is unconditional"):
        fam.sample_images(1, 2, model=tiny, classes="kick")
    with pytest.raises(ValueError, match="unknown class 'tom'"):
        fam.sample_images(1, 2, model=tiny_cond, classes="tom")
    with pytest.raises(ValueError, match="guidance"):
        fam.sample_images(1, 2, model=tiny_cond, classes="kick", guidance=-1.0)


def test_conditional_recipe_trains_on_the_clips_labels():
    """The trainer of drums-mel-cond draws the same clips as drums-mel's, with their labels
    (indices into SOUNDS), and its network has the classes."""
    s = fam.train_settings("fast")
    plain, cond = fam._trainer(s, None, None), fam._trainer(s, None, None, "drums-mel-cond")
    assert cond.model.classes == list(fam.SOUNDS) and plain.model.classes is None
    torch.manual_seed(0)
    a = plain._source.batches(0)
    torch.manual_seed(0)
    b = cond._source.batches(0)
    ds = fam.dataset(s["n_train"])
    assert torch.equal(a, b["audio"]) and b["label"].max() < len(fam.SOUNDS)
    assert [fam.SOUNDS[i] for i in fam._labels(ds)] == [ds.classes[i] for i in ds.labels]


def test_evaluate_gives_conditional_models_the_class_check(tiny, tiny_cond):
    out = fam.evaluate({"c": tiny_cond, "u": tiny}, n=8, steps=2, ceiling=False, n_train=40)
    assert 0.0 <= out["c"]["class_accuracy"] <= 1.0 and set(out["c"]["per_class"]) == set(
        fam.SOUNDS
    )
    assert out["c"]["requested"].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert "class_accuracy" not in out["u"] and out["u"]["fd"] > 0


def test_conditional_benchmark_chooses_and_registers(tmp_path):
    """bench_mel_cond ships the weight with the lowest FD among those that make the asked
    class 90 % of the time (else the most accurate), and registers what chapter 4 reads."""
    spec = importlib.util.spec_from_file_location(
        "bench_cond", ROOT / "benchmarks/bench_mel_cond.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = {"1": {"fd": 5.0, "class_accuracy": 0.8}, "2": {"fd": 7.0, "class_accuracy": 0.93},
            "3": {"fd": 6.0, "class_accuracy": 0.95}}  # fmt: skip
    assert bench.choose(rows) == 3.0
    rows["3"]["class_accuracy"] = 0.85
    assert bench.choose(rows) == 2.0
    assert bench.choose({"1": {"fd": 5.0, "class_accuracy": 0.5},
                         "4": {"fd": 9.0, "class_accuracy": 0.7}}) == 4.0  # fmt: skip
    path = tl.checkpoints.save(
        tmp_path / "drums-mel-cond.safetensors", fam.build(fam.COND_CONFIG),
        config=fam.COND_CONFIG, metadata={"steps": 7, "final_loss": 0.1}, dtype=torch.float16,
    )  # fmt: skip
    ref = bench.register(tl, path, {"fd": 9.0, "guidance": 2.0, "seconds": 5.0},
                         weights_dir=tmp_path / "weights")  # fmt: skip
    assert ref.name == "drums-mel-cond" and ref.config == fam.COND_CONFIG
    assert ref.metric["guidance"] == 2.0 and "seconds" not in ref.metric
    # the seed step's rows: from the run when it made them, else kept from the registry
    seed_rows = {"2": {"fd": 50.0, "class_accuracy": 0.6}}
    bench.register(tl, path, {"fd": 9.0, "guidance": 2.0, "seed_step_rows": seed_rows},
                   weights_dir=tmp_path / "weights")  # fmt: skip
    again = bench.register(tl, path, {"fd": 8.0, "guidance": 2.0}, weights_dir=tmp_path / "weights")
    assert again.metric["seed_step_rows"] == seed_rows and again.metric["fd"] == 8.0


def test_the_family_samples_the_conditional_model_at_the_measured_weight():
    """SAMPLING["guidance"] is the weight bench_mel_cond.py chose and registered (its rule:
    the lowest FD among weights with class accuracy >= 0.9, else the most accurate)."""
    m = ck.reference("drums-mel-cond").metric
    assert fam.SAMPLING["guidance"] == m["guidance"]
    best = max(m["rows"], key=lambda w: m["rows"][w]["class_accuracy"])
    assert m["class_accuracy"] == m["rows"][f"{m['guidance']:g}"]["class_accuracy"]
    assert float(best) == m["guidance"] or m["class_accuracy"] >= 0.9
