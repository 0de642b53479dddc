"""Tests for tutorial_lib.schedules: curves against diffusers and direct formulas, the closed-form
forward process, reverse sampling, the band processor and argument checks."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch
from reference_impl import reference

from tutorial_lib import schedules as S

SR = 16_000


@pytest.fixture
def clip() -> torch.Tensor:
    """A decaying two-partial tone plus a little noise, (2, 1, 4000): mostly low frequencies."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(4000) / SR
    env = torch.exp(-t * 8)
    tone = 0.5 * torch.sin(2 * math.pi * 220 * t) + 0.2 * torch.sin(2 * math.pi * 660 * t)
    x = (env * tone).repeat(2, 1, 1) + 0.01 * torch.randn(2, 1, 4000, generator=g)
    return x.float()


# ---------------------------------------------------------------------------- curves


@pytest.mark.parametrize(
    ("ours", "theirs", "beta_t0", "beta_t1", "steps"),
    [
        ("linear", "linear", 1e-4, 0.02, 1000),
        ("linear", "linear", 5e-4, 0.05, 200),
        ("cosine", "squaredcos_cap_v2", 1e-4, 0.02, 1000),
        ("cosine", "squaredcos_cap_v2", 1e-4, 0.02, 50),
    ],
)
def test_alpha_bar_matches_diffusers(ours, theirs, beta_t0, beta_t1, steps):
    diffusers = reference("diffusers")
    ref = diffusers.DDPMScheduler(
        num_train_timesteps=steps, beta_start=beta_t0, beta_end=beta_t1, beta_schedule=theirs
    )
    want = ref.alphas_cumprod.double()
    curve = S.alpha_bar(ours, steps, beta_t0=beta_t0, beta_t1=beta_t1)
    sched = S.NoiseSchedule(beta_t0, beta_t1, steps, beta_schedule=ours)
    assert curve.shape == (steps,)
    assert torch.allclose(curve, want, rtol=0, atol=1e-6)
    assert torch.allclose(sched.get_alpha_bar().double(), want, rtol=0, atol=1e-6)
    assert torch.allclose(sched.betas.double(), ref.betas.double(), rtol=0, atol=1e-6)


def test_power_schedule_formula_and_exp_one_is_linear():
    b = S.make_betas("power", 100, beta_t0=1e-5, beta_t1=2.9e-2, beta_exp=7.5)
    want = np.linspace(1e-5 ** (1 / 7.5), 2.9e-2 ** (1 / 7.5), 100) ** 7.5
    np.testing.assert_allclose(b.numpy(), want, rtol=1e-12)
    lin = S.make_betas("linear", 100, beta_t0=1e-4, beta_t1=0.02)
    pw1 = S.make_betas("power", 100, beta_t0=1e-4, beta_t1=0.02, beta_exp=1.0)
    torch.testing.assert_close(lin, pw1)


def test_sigmoid_schedule_matches_chen_formula():
    t = np.linspace(0, 1, 11)

    def sig(z):
        return 1 / (1 + np.exp(-z))

    start, end, tau = -3.0, 3.0, 0.7
    want = (sig(end / tau) - sig((t * (end - start) + start) / tau)) / (
        sig(end / tau) - sig(start / tau)
    )
    got = S.sigmoid_alpha_bar(t, start=start, end=end, tau=tau)
    np.testing.assert_allclose(got.numpy(), np.clip(want, 1e-9, 1), rtol=1e-12)
    # the discrete schedule hits the continuous curve at t = (s + 1) / T, except where the
    # beta cap (max_beta = 0.999) bites: the last step
    ab = S.alpha_bar("sigmoid", 10, sigmoid_tau=tau)
    np.testing.assert_allclose(ab.numpy()[:-1], want[1:-1], rtol=1e-9)
    assert float(S.make_betas("sigmoid", 10, sigmoid_tau=tau)[-1]) == pytest.approx(0.999)


def test_snr_log_snr_and_inverse():
    ab = torch.tensor([0.9, 0.5, 0.1])
    np.testing.assert_allclose(S.snr(ab).numpy(), [9.0, 1.0, 1 / 9], rtol=1e-6)
    np.testing.assert_allclose(S.log_snr(ab).numpy(), np.log([9.0, 1.0, 1 / 9]), rtol=1e-6)
    np.testing.assert_allclose(S.snr_db(ab).numpy(), 10 * np.log10([9.0, 1.0, 1 / 9]), rtol=1e-6)
    lam = torch.linspace(-8, 8, 17)
    torch.testing.assert_close(S.log_snr(S.alpha_bar_from_log_snr(lam)), lam.double())


def test_cosine_log_snr_is_the_cosine_schedule_within_its_limits():
    t = torch.linspace(0.02, 0.98, 25, dtype=torch.float64)
    lam = S.cosine_log_snr(t, log_snr_min=-700, log_snr_max=700)
    torch.testing.assert_close(lam, S.log_snr(torch.cos(math.pi * t / 2) ** 2))
    ends = S.cosine_log_snr(torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(ends, torch.tensor([20.0, -20.0], dtype=torch.float64))
    assert (S.cosine_log_snr(t).diff() < 0).all()
    with pytest.raises(ValueError, match="times"):
        S.cosine_log_snr(torch.tensor([1.5]))
    with pytest.raises(ValueError, match="min < max"):
        S.cosine_log_snr(t, log_snr_min=5, log_snr_max=1)


def test_the_cosine_table_is_the_continuous_function_at_the_grid_times():
    # the module docstring's three forms: function of t, table at t_s = (s + 1) / N, NoiseSchedule
    for n in (10, 1000):
        t = S.timesteps(n)
        table = S.alpha_bar("cosine", n)
        want = S.cosine_alpha_bar(t) / S.cosine_alpha_bar(torch.tensor([0.0]))
        torch.testing.assert_close(table[:-1], want[:-1], rtol=1e-9, atol=0)
        assert float(S.make_betas("cosine", n)[-1]) == pytest.approx(0.999)  # the capped step
        sched = S.NoiseSchedule(num_steps=n, beta_schedule="cosine")
        torch.testing.assert_close(sched.alpha_bars.double(), table, rtol=1e-6, atol=1e-9)
    # without its offset and its log-SNR limits, the cosine is v-diffusion's a_t = cos(pi t / 2)
    t = torch.linspace(0.02, 0.98, 25, dtype=torch.float64)
    lam = S.cosine_log_snr(t, log_snr_min=-700, log_snr_max=700)
    torch.testing.assert_close(lam, S.log_snr(S.cosine_alpha_bar(t, s=0.0)))
    torch.testing.assert_close(S.alpha_bar_from_log_snr(lam), S.cosine_alpha_bar(t, s=0.0))


def test_rectified_flow_and_its_vp_equivalent():
    a, s = S.rectified_flow(torch.tensor([0.0, 0.25, 1.0]))
    np.testing.assert_allclose(a.numpy(), [1.0, 0.75, 0.0])
    np.testing.assert_allclose(s.numpy(), [0.0, 0.25, 1.0])
    ab = S.alpha_bar("rectified_flow", 4)  # t = 0.25, 0.5, 0.75, 1
    t = np.array([0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(S.snr(ab).numpy()[:3], ((1 - t) / t)[:3] ** 2, rtol=1e-12)
    assert S.snr_crossing(ab) == 1  # t = 0.5 is 0 dB
    x0, eps = torch.ones(2, 1, 5), torch.zeros(2, 1, 5)
    xt = S.rf_interpolate(x0, eps, torch.tensor([0.0, 0.5]))
    torch.testing.assert_close(xt[:, 0, 0], torch.tensor([1.0, 0.5]))


def test_snr_crossing_and_betas_round_trip():
    ab = S.alpha_bar("linear", 1000)
    k = S.snr_crossing(ab)
    assert ab[k] <= 0.5 < ab[k - 1]
    assert S.snr_crossing(ab, level_db=-1000.0) == 1000
    torch.testing.assert_close(S.alpha_bar_from_betas(S.betas_from_alpha_bar(ab)), ab)


def test_noise_floor_caps_alpha_bar():
    ab = S.alpha_bar("linear", 1000, noise_floor=0.1)
    assert float(ab.max()) == pytest.approx(1 - 0.01, abs=1e-12)
    plain = S.alpha_bar("linear", 1000)
    late = plain < 0.99
    torch.testing.assert_close(ab[late], plain[late])
    sched = S.NoiseSchedule(noise_floor=0.1)
    assert float(sched.get_alpha_bar(0)) == pytest.approx(0.99, abs=1e-6)


# ---------------------------------------------------------------------------- forward process


@pytest.mark.parametrize("tensor_step", [False, True])
def test_training_item_satisfies_closed_form(clip, tensor_step):
    torch.manual_seed(0)
    sched = S.NoiseSchedule(beta_schedule="cosine", num_steps=100)
    item = sched.get_training_item(clip, tensor_step=tensor_step)
    assert isinstance(item, S.TrainingItem)
    noisy, noise, step = item
    if tensor_step:
        assert isinstance(step, torch.Tensor) and step.shape == (2,)
        ab = S.alpha_bar("cosine", 100)[step].view(-1, 1, 1)
    else:
        assert isinstance(step, int) and 0 <= step < 100
        ab = S.alpha_bar("cosine", 100)[step]
    want = ab.sqrt() * clip.double() + (1 - ab).sqrt() * noise.double()
    torch.testing.assert_close(noisy.double(), want, rtol=0, atol=1e-6)
    torch.testing.assert_close(noisy, S.q_sample(clip, sched.get_alpha_bar(step), noise))


def test_training_item_given_step_noise_and_rescale(clip):
    sched = S.NoiseSchedule(num_steps=50, rescale=2.0)
    noise = torch.randn(clip.shape, generator=torch.Generator().manual_seed(0))
    noisy, eps, step = sched.get_training_item(clip, step=10, noise=noise)
    assert step == 10 and eps is noise
    ab = sched.get_alpha_bar(10)
    torch.testing.assert_close(noisy, ab.sqrt() * clip / 2 + (1 - ab).sqrt() * noise)
    # at the noisiest step of a long linear schedule, the sample is almost pure noise
    last = S.NoiseSchedule().get_training_item(clip, step=999, noise=noise).noisy
    assert torch.allclose(last, noise, atol=0.02)


# ---------------------------------------------------------------------------- reverse process


class _Shrink(torch.nn.Module):
    """A deterministic toy epsilon-predictor that depends on the step."""

    def forward(self, x, step, condition=None):
        scale = 0.5 + step.float().view(-1, 1, 1) / 1000
        out = x * scale
        return out if condition is None else out + condition


def test_generate_variance_none_is_deterministic_and_matches_subsampled():
    sched = S.NoiseSchedule(num_steps=30, variance="none", clip=0)
    init = torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    a = sched.generate(_Shrink(), init)
    torch.manual_seed(2)
    b = sched.generate(_Shrink(), init)
    assert torch.equal(a, b)
    c = sched.generate_subsampled(_Shrink(), init, step_list=list(range(30))[::-1])
    torch.testing.assert_close(a, c)
    its = sched.generate(_Shrink(), init, return_list=True)
    assert len(its) == 31 and torch.equal(its[0], init)
    torch.testing.assert_close(its[-1], a)


def test_generate_with_perfect_model_recovers_data():
    """If the model returns the true noise, one reverse step from any step recovers x0."""
    x0 = torch.randn(1, 1, 32) * 0.3
    sched = S.NoiseSchedule(num_steps=100, beta_schedule="cosine", variance="beta")
    item = sched.get_training_item(x0, step=60)

    def oracle(x, step):
        return item.noise

    out = sched.generate_subsampled(oracle, item.noisy, step_list=[60])
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=0)


def test_generate_variance_and_clip_and_condition():
    init = torch.randn(2, 1, 64) * 5
    for variance in ("beta", "beta_tilde"):
        sched = S.NoiseSchedule(num_steps=20, variance=variance, clip=1.0)
        torch.manual_seed(0)
        a = sched.generate(_Shrink(), init)
        torch.manual_seed(0)
        b = sched.generate(_Shrink(), init)
        torch.manual_seed(1)
        c = sched.generate(_Shrink(), init)
        assert torch.equal(a, b) and not torch.equal(a, c)
        assert a.abs().max() <= 1.0
    sched = S.NoiseSchedule(num_steps=5, variance="none")
    cond = torch.ones(2, 1, 64)
    with_cond = sched.generate_subsampled(_Shrink(), init, [4, 2], condition=cond)
    without = sched.generate_subsampled(_Shrink(), init, [4, 2])
    assert not torch.allclose(with_cond, without)


def test_default_step_list_and_sample_attribute():
    class Out:
        def __init__(self, sample):
            self.sample = sample

    calls = []

    def model(x, step):
        calls.append(int(step[0]))
        return Out(torch.zeros_like(x))

    S.NoiseSchedule(variance="none").generate_subsampled(model, torch.randn(1, 1, 8))
    assert calls == list(range(1000))[::-50]


# ---------------------------------------------------------------------------- bands


def test_split_bands_sum_to_signal_and_edges(clip):
    edges = S.mel_band_edges(SR, 8)
    assert edges[0] == 0 and edges[-1] == SR / 2 and torch.all(edges[1:] > edges[:-1])
    for transition in (0.0, 0.5):
        bands = S.split_bands(clip, SR, 8, transition=transition)
        assert bands.shape == (8, *clip.shape)
        torch.testing.assert_close(bands.sum(0), clip, atol=1e-6, rtol=0)
        m = S.band_masks(1000, SR, 8, transition=transition)
        torch.testing.assert_close(m.sum(0), torch.ones(501, dtype=torch.float64))
        assert m.min() >= 0
    # a 220 Hz tone lives in the first band only
    t = torch.arange(SR) / SR
    tone = torch.sin(2 * math.pi * 220 * t).view(1, 1, -1)
    power = S.split_bands(tone, SR, 8).pow(2).mean(dim=(1, 2, 3))
    assert power[0] > 0.49 and power[1:].sum() < 1e-6


def test_band_edges_are_even_on_librosas_htk_mel_scale():
    for sr, n in ((16_000, 8), (44_100, 6), (22_050, 1)):
        edges = S.mel_band_edges(sr, n).numpy()
        want = librosa.mel_frequencies(n + 1, fmin=0.0, fmax=sr / 2, htk=True)
        np.testing.assert_allclose(edges, want, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(np.diff(librosa.hz_to_mel(edges, htk=True)),
                                   librosa.hz_to_mel(sr / 2, htk=True) / n, rtol=1e-9)  # fmt: skip
    # a bin's band is the one whose mel interval holds it
    freqs = np.fft.rfftfreq(1000, d=1 / SR)
    masks = S.band_masks(1000, SR, 8).numpy()
    edges_mel = librosa.hz_to_mel(S.mel_band_edges(SR, 8).numpy(), htk=True)
    band = np.searchsorted(edges_mel[1:-1], librosa.hz_to_mel(freqs, htk=True), side="right")
    np.testing.assert_array_equal(masks.argmax(0), band)


def test_multiband_processor_round_trip_and_whitening(clip):
    proc = S.MultiBandProcessor(n_bands=6, sample_rate=SR, num_samples=100)
    z = proc.project_sample(clip)
    assert z.shape == clip.shape and int(proc.counts) == 2
    torch.testing.assert_close(proc.return_sample(z), clip, atol=1e-5, rtol=0)
    # after projection each band has the power of unit white noise in that band
    got = S.split_bands(z, SR, 6).pow(2).mean(dim=(1, 2, 3)).double()
    want = proc.target_std.double() ** 2
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-8)
    # white noise of unit variance is left (nearly) unchanged
    noise = torch.randn(8, 1, 8000, generator=torch.Generator().manual_seed(0))
    white = S.MultiBandProcessor(n_bands=6, sample_rate=SR).fit(noise)
    assert torch.allclose(white.rescale, torch.ones(6), atol=0.05)
    # stats freeze after num_samples clips
    small = S.MultiBandProcessor(n_bands=4, sample_rate=SR, num_samples=2)
    small.project_sample(clip)
    small.project_sample(clip * 10)
    assert int(small.counts) == 2
    assert set(small.state_dict()) == {"counts", "sum_x", "sum_x2", "sum_target_x2"}


def test_schedule_with_band_processor_round_trips(clip):
    sched = S.NoiseSchedule(num_steps=10, n_bands=4, sample_rate=SR, variance="none")
    assert isinstance(sched.sample_processor, S.MultiBandProcessor)
    item = sched.get_training_item(clip, step=0)
    ab = sched.get_alpha_bar(0)
    z = sched.sample_processor.project_sample(clip)
    torch.testing.assert_close(item.noisy, ab.sqrt() * z + (1 - ab).sqrt() * item.noise)
    oracle = lambda x, step: item.noise  # noqa: E731
    out = sched.generate_subsampled(oracle, item.noisy, step_list=[0])
    torch.testing.assert_close(out, clip, atol=1e-4, rtol=0)


def test_band_snr_high_bands_drown_first(clip):
    ab = S.alpha_bar("linear", 1000)
    db = S.band_snr_db(clip, ab, SR, n_bands=8)
    assert db.shape == (8, 1000)
    assert db[0, 100] > db[-1, 100] + 20  # low band far above the top band
    # a band's SNR is its power ratio plus the schedule's SNR
    diff = db - S.snr_db(ab)[None]
    assert torch.allclose(diff, diff[:, :1].expand_as(diff))


# ---------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"beta_schedule": "cosin"}, r"beta_schedule.*Did you mean 'cosine'"),
        ({"beta_t0": 0.0}, r"beta_t0: expected a value in \(0, 1\)"),
        ({"beta_t1": 1.5}, r"beta_t1: expected a value in \(0, 1\)"),
        ({"num_steps": 0}, r"num_steps: expected an integer >= 1"),
        ({"variance": "sigma"}, r"variance: unknown value"),
        ({"noise_floor": 1.0}, r"noise_floor"),
        ({"rescale": 0}, r"rescale"),
    ],
)
def test_bad_schedule_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.NoiseSchedule(**kwargs)


def test_bad_call_arguments(clip):
    sched = S.NoiseSchedule(num_steps=10)
    with pytest.raises(ValueError, match="strictly decreasing"):
        sched.generate_subsampled(_Shrink(), clip, step_list=[2, 5, 1])
    with pytest.raises(ValueError, match="strictly decreasing"):
        sched.generate_subsampled(_Shrink(), clip, step_list=[5, 5])
    with pytest.raises(ValueError, match=r"step_list\[0\].*<= 9"):
        sched.generate_subsampled(_Shrink(), clip, step_list=[10, 1])
    with pytest.raises(ValueError, match="initial"):
        sched.generate(_Shrink(), None)
    with pytest.raises(ValueError, match=r"x: expected a batch of shape \(B, C, T\)"):
        sched.get_training_item(clip[0, 0])
    with pytest.raises(TypeError, match="step"):
        sched.get_alpha_bar(torch.tensor([0.5]))
    with pytest.raises(ValueError, match="alpha_bar_t"):
        S.q_sample(clip, 3, torch.randn_like(clip))
    with pytest.raises(ValueError, match="unknown value 'flow'"):
        S.alpha_bar("flow")
    with pytest.raises(ValueError, match="n_bands"):
        S.NoiseSchedule(n_bands=4, sample_processor=S.MultiBandProcessor(n_bands=8))
    with pytest.raises(RuntimeError, match="fit"):
        S.MultiBandProcessor(n_bands=4, sample_rate=SR).return_sample(clip)
