"""Tests for tutorial_lib.samplers.dpm_solver: DPM-Solver++(2M) against diffusers'
DPMSolverMultistepScheduler, eps and v predictions."""

from __future__ import annotations

import pytest
import torch
from reference_impl import reference
from sampler_fakes import N, fake_eps, gen

from tutorial_lib import samplers as S


@pytest.mark.parametrize(
    ("steps", "prediction"), [(1, "epsilon"), (5, "epsilon"), (20, "epsilon"), (12, "v_prediction")]
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy 2 notice inside diffusers
def test_dpm_solver_pp_2m_matches_diffusers(steps, prediction):
    diffusers = reference("diffusers")
    ref = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=N,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        algorithm_type="dpmsolver++",
        solver_order=2,
        solver_type="midpoint",
        prediction_type=prediction,
        timestep_spacing="trailing",
        final_sigmas_type="zero",
    )
    ref.set_timesteps(steps)
    x_T = torch.randn(2, 1, 48, generator=gen(2))
    x = x_T.clone()
    for t in ref.timesteps:
        out = fake_eps(x, torch.full((2,), (int(t) + 1) / N))
        x = ref.step(out, t, x).prev_sample
    ours = "eps" if prediction == "epsilon" else "v"
    got = S.dpm_solver_pp_2m_sample(
        fake_eps, x_T, ref.alphas_cumprod.double(), steps=steps, prediction=ours
    )
    torch.testing.assert_close(got, x, rtol=1e-5, atol=1e-5)
