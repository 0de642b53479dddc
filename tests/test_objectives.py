"""Tests for tutorial_lib.objectives: eps/v/x0 conversions against direct formulas and diffusers,
the DDPM and rectified-flow losses with oracle networks, time sampling, and argument checks."""

from __future__ import annotations

import math

import pytest
import torch
from reference_impl import reference

from tutorial_lib import objectives as O
from tutorial_lib import schedules


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def batch():
    g = _gen(0)
    x0 = torch.randn(4, 1, 32, generator=g, dtype=torch.float64)
    eps = torch.randn(4, 1, 32, generator=g, dtype=torch.float64)
    ab = torch.tensor([0.999, 0.7, 0.2, 0.01], dtype=torch.float64)
    a, s = ab.sqrt().view(-1, 1, 1), (1 - ab).sqrt().view(-1, 1, 1)
    return x0, eps, ab, a * x0 + s * eps


def test_v_target_matches_diffusers_get_velocity(batch):
    diffusers = reference("diffusers")
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    x0, eps, _, _ = batch
    steps = torch.tensor([0, 250, 700, 999])
    ab = ref.alphas_cumprod[steps].double()
    want = ref.get_velocity(x0, eps, steps)
    torch.testing.assert_close(O.ddpm_target(x0, eps, ab, "v"), want.to(x0.dtype))
    assert torch.equal(O.ddpm_target(x0, eps, ab, "eps"), eps)
    assert torch.equal(O.ddpm_target(x0, eps, ab, "x0"), x0)


def test_conversions_recover_the_truth(batch):
    x0, eps, ab, xt = batch
    a, s = ab.sqrt().view(-1, 1, 1), (1 - ab).sqrt().view(-1, 1, 1)
    v = a * eps - s * x0
    truth = {"eps": eps, "x0": x0, "v": v}
    for src, pred in truth.items():
        for dst, want in truth.items():
            got = O.convert(pred, xt, ab, source=src, target=dst)
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(O.predict_x0(xt, v, ab, "v"), x0)
    torch.testing.assert_close(O.predict_eps(xt, x0, ab, "x0"), eps)
    torch.testing.assert_close(O.predict_v(xt, eps, ab, "eps"), v)
    # a scalar alpha_bar broadcasts over the batch
    x1 = math.sqrt(0.3) * x0 + math.sqrt(0.7) * eps
    torch.testing.assert_close(O.predict_x0(x1, eps, 0.3), x0)


def test_v_works_where_eps_cannot():
    xt = torch.randn(2, 3)
    v = torch.randn(2, 3)
    torch.testing.assert_close(O.predict_x0(xt, v, 0.0, "v"), -v)  # a = 0, s = 1: x0 = -v
    with pytest.raises(ValueError, match="pure noise"):
        O.predict_x0(xt, v, 0.0, "eps")


def test_ddpm_loss_oracle_is_zero_and_formula():
    ab = schedules.alpha_bar("cosine", 100)
    x0 = torch.randn(5, 1, 16, generator=_gen(1))
    noise = torch.randn(5, 1, 16, generator=_gen(2))
    step = torch.tensor([0, 10, 50, 90, 99])
    seen = {}

    def oracle(xt, t):
        seen["t"] = t
        a = ab[step].sqrt().view(-1, 1, 1).float()
        s = (1 - ab[step]).sqrt().view(-1, 1, 1).float()
        seen["xt_ok"] = torch.allclose(xt, a * x0 + s * noise, atol=1e-6)
        return noise

    loss = O.ddpm_loss(oracle, x0, ab, step=step, noise=noise)
    assert float(loss) == pytest.approx(0.0, abs=1e-12) and seen["xt_ok"]
    torch.testing.assert_close(seen["t"], (step.float() + 1) / 100)
    zero = O.ddpm_loss(lambda xt, t: torch.zeros_like(xt), x0, ab, step=step, noise=noise)
    assert float(zero) == pytest.approx(float((noise**2).mean()), rel=1e-6)
    for pred in ("v", "x0"):  # a random-step loss is finite and positive
        assert float(O.ddpm_loss(lambda xt, t: torch.zeros_like(xt), x0, ab, prediction=pred)) > 0


def test_rf_loss_oracle_sign_and_interpolation():
    x0 = torch.randn(4, 1, 16, generator=_gen(3))
    z = torch.randn(4, 1, 16, generator=_gen(4))
    t = torch.tensor([0.1, 0.4, 0.5, 0.9])

    def oracle(xt, tt):
        want_xt = schedules.rf_interpolate(x0, z, tt)  # the library's forward process
        assert torch.allclose(xt, want_xt, atol=1e-6)
        return x0 - z  # the seed's target: v = x0 - z

    assert float(O.rf_loss(oracle, x0, t=t, noise=z)) == pytest.approx(0.0, abs=1e-12)
    wrong_sign = O.rf_loss(lambda xt, tt: z - x0, x0, t=t, noise=z)
    assert float(wrong_sign) == pytest.approx(float((2 * (x0 - z)).pow(2).mean()), rel=1e-6)
    xt = schedules.rf_interpolate(x0, z, t)
    torch.testing.assert_close(O.rf_x0_from_v(xt, x0 - z, t), x0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(O.rf_eps_from_v(xt, x0 - z, t), z, rtol=1e-5, atol=1e-5)


def test_rf_time_distributions():
    torch.manual_seed(0)
    t = O.sample_rf_times(20_000, "logit_normal")
    logit = torch.log(t) - torch.log1p(-t)
    assert abs(float(logit.mean())) < 0.05 and abs(float(logit.std()) - 1) < 0.05
    u = O.sample_rf_times(20_000, "uniform")
    assert abs(float(u.mean()) - 0.5) < 0.01 and abs(float(u.var()) - 1 / 12) < 0.005
    shifted = O.sample_rf_times(20_000, mean=1.0, std=0.5)
    lg = torch.log(shifted) - torch.log1p(-shifted)
    assert abs(float(lg.mean()) - 1) < 0.05 and abs(float(lg.std()) - 0.5) < 0.05
    # seeded generator: reproducible
    a = O.sample_rf_times(5, generator=_gen(9))
    assert torch.equal(a, O.sample_rf_times(5, generator=_gen(9)))


def test_time_of_step():
    torch.testing.assert_close(
        O.time_of_step(torch.tensor([0, 999]), 1000), torch.tensor([0.001, 1.0])
    )
    with pytest.raises(ValueError, match=r"steps in \[0, 9\]"):
        O.time_of_step(10, 10)
    with pytest.raises(TypeError, match="integer step"):
        O.time_of_step(torch.tensor([0.5]), 10)


def test_bad_input_errors():
    x = torch.randn(2, 1, 8)
    with pytest.raises(ValueError, match="unknown value 'noise'"):
        O.convert(x, x, 0.5, source="noise", target="x0")
    with pytest.raises(ValueError, match="pred: expected the shape of xt"):
        O.predict_x0(x, torch.randn(2, 1, 9), 0.5)
    with pytest.raises(ValueError, match=r"alpha_bar_t: expected values in \[0, 1\]"):
        O.predict_x0(x, x, 1.5)
    with pytest.raises(
        ValueError, match=r"alpha_bar_t: expected a number or a tensor of shape \(B,\)"
    ):
        O.predict_x0(x, x, torch.tensor([0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="batch axis first"):
        O.rf_target(torch.randn(8), torch.randn(8))
    with pytest.raises(TypeError, match="floating-point"):
        O.ddpm_target(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="model: expected an output of the shape"):
        O.rf_loss(lambda xt, t: xt[:, :, :4], x)
    with pytest.raises(ValueError, match="unknown value 'normal'"):
        O.rf_loss(lambda xt, t: xt, x, times="normal")
    with pytest.raises(ValueError, match="std: expected a value in"):
        O.sample_rf_times(4, std=0.0)


# ------------------------------------------------------------------ continuous time (ch. 6)


def test_cosine_alpha_sigma_is_the_log_snr_schedule():
    t = torch.linspace(0, 1, 11)
    a, s = O.cosine_alpha_sigma(t)
    assert a.dtype == s.dtype == torch.float32
    torch.testing.assert_close(a**2 + s**2, torch.ones(11))
    lam = schedules.cosine_log_snr(t)
    torch.testing.assert_close((a**2 / s**2).log().double(), lam, atol=1e-3, rtol=1e-4)
    with pytest.raises(ValueError, match="t"):
        O.cosine_alpha_sigma([1.5])


def test_continuous_loss_is_the_distance_to_the_target():
    """Redraw t and eps as the loss does (same seed) and compute each target by hand."""
    x0 = torch.rand(3, 4, 5) * 2 - 1
    seen = {}

    def model(z, t, *, scale=1.0):
        seen["z"], seen["t"] = z, t
        return scale * z

    for prediction in ("x0", "eps", "v"):
        for norm in ("l1", "l2"):
            torch.manual_seed(0)
            got = O.continuous_loss(model, x0, prediction=prediction, norm=norm,
                                    cond={"scale": 0.5})  # fmt: skip
            torch.manual_seed(0)
            t = torch.rand(3)
            eps = torch.randn_like(x0)
            lam = schedules.cosine_log_snr(t).float()
            a, s = (v.sqrt()[:, None, None] for v in (torch.sigmoid(lam), torch.sigmoid(-lam)))
            z = a * x0 + s * eps
            target = {"x0": x0, "eps": eps, "v": a * eps - s * x0}[prediction]
            diff = 0.5 * z - target
            want = diff.abs().mean() if norm == "l1" else diff.square().mean()
            torch.testing.assert_close(got, want)
            torch.testing.assert_close(seen["z"], z)
    with pytest.raises(ValueError, match="norm"):
        O.continuous_loss(model, x0, norm="l3")
    with pytest.raises(ValueError, match="prediction"):
        O.continuous_loss(model, x0, prediction="score")


def test_ddpm_loss_passes_class_labels_and_drops_them_for_guidance():
    """With labels, the network is called model(x_t, t, labels); class_dropout replaces labels
    with -1 ("no class") at its rate, and without labels nothing changes (same random draws)."""
    seen = []

    def model(x, t, labels=None):
        seen.append(None if labels is None else labels.clone())
        return torch.zeros_like(x)

    x0 = torch.randn(512, 1, 4)
    labels = torch.arange(512) % 3
    ab = schedules.alpha_bar("linear", 100)
    torch.manual_seed(0)
    plain = O.ddpm_loss(model, x0, ab)
    torch.manual_seed(0)
    again = O.ddpm_loss(model, x0, ab, class_labels=None, class_dropout=0.5)
    assert seen[:2] == [None, None] and torch.equal(plain, again)
    O.ddpm_loss(model, x0, ab, class_labels=labels)
    assert torch.equal(seen[-1], labels)
    O.ddpm_loss(model, x0, ab, class_labels=labels, class_dropout=0.25)
    dropped = seen[-1] == -1
    assert 0.15 < dropped.float().mean() < 0.35
    assert torch.equal(seen[-1][~dropped], labels[~dropped])
    assert (O.drop_labels(labels, 1.0, 512) == -1).all()
    with pytest.raises(ValueError, match="class_labels: expected one label per item"):
        O.ddpm_loss(model, x0, ab, class_labels=labels[:3])
    with pytest.raises(ValueError, match="class_dropout"):
        O.drop_labels(labels, 1.5, 512)
