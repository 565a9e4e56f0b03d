import math

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from framepack.flow_matching import (
    Guidance,
    combine_guidance,
    euler_step,
    sample,
    shift_time,
    time_grid,
)

# Toy problem with a known solution: data x0 ~ N(mu, s²) per coordinate. The exact
# flow-matching velocity is E[noise − x0 | x_t], and the probability-flow ODE maps the
# noise z at t = 1 to mu + s·z at t = 0.
MU, S = 0.7, 0.3


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.to(torch.float64)
    x = x.to(torch.float64)
    var_t = (1 - t) ** 2 * S**2 + t**2
    x0_mean = MU + (1 - t) * S**2 / var_t * (x - (1 - t) * MU)
    noise_mean = t / var_t * (x - (1 - t) * MU)
    return noise_mean - x0_mean


def toy_error(solver: str, steps: int, shift: float = 1.0) -> float:
    z = torch.randn(256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = sample(gaussian_velocity, z, time_grid(steps, shift).to(torch.float64), solver=solver)
    return float((out - (MU + S * z)).abs().max())


def test_shift_maps_ends_to_themselves_and_pushes_time_toward_noise():
    t = np.array([0.0, 0.25, 0.5, 1.0])
    shifted = shift_time(t, 3.0)
    assert shifted[0] == 0.0 and shifted[-1] == 1.0
    assert np.all(shifted[1:-1] > t[1:-1])
    assert shifted[2] == pytest.approx(3 * 0.5 / (1 + 2 * 0.5))


def test_time_grid_is_decreasing_and_ends_at_zero():
    grid = time_grid(7, shift=5.0)
    assert grid.dtype == torch.float32 and len(grid) == 8
    assert grid[0] == 1.0 and grid[-1] == 0.0
    assert bool((grid[1:] < grid[:-1]).all())


@pytest.mark.parametrize("shift", [1.0, 3.0, 7.0])
def test_time_grid_equals_diffusers_scheduler_sigmas(shift):
    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 0.0, 11)[:-1])
    assert torch.equal(time_grid(10, shift), scheduler.sigmas)


def test_time_grid_with_mu_equals_diffusers_dynamic_shifting():
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True)
    mu = math.log(5.0)
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 0.0, 9)[:-1], mu=mu)
    torch.testing.assert_close(time_grid(8, mu=mu), scheduler.sigmas, rtol=0, atol=1e-6)


def test_euler_matches_diffusers_flow_match_euler_step_for_step():
    steps, shift = 6, 7.0
    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 0.0, steps + 1)[:-1])
    weight = torch.randn(4, 4, generator=torch.Generator().manual_seed(1))

    def velocity(x, t):  # a nonlinear stand-in model
        return torch.tanh(torch.einsum("ij,bjfhw->bifhw", weight, x)) * (1 + t)

    x0 = torch.randn(1, 4, 3, 5, 5, generator=torch.Generator().manual_seed(2))
    ours_trajectory = []
    ours = sample(velocity, x0, time_grid(steps, shift), on_step=lambda i, n, x: ours_trajectory.append(x))
    theirs = x0
    for i, timestep in enumerate(scheduler.timesteps):
        theirs = scheduler.step(velocity(theirs, timestep / 1000), timestep, theirs, return_dict=False)[0]
        assert torch.equal(ours_trajectory[i], theirs), f"step {i} differs"
    assert torch.equal(ours, theirs)


def test_euler_step_is_x_plus_dt_times_velocity():
    x, v = torch.ones(3), torch.full((3,), 2.0)
    assert torch.allclose(euler_step(x, v, torch.tensor(0.5), torch.tensor(0.25)), torch.full((3,), 0.5))


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_dpmpp_2m_is_more_accurate_than_euler_at_equal_step_counts(shift):
    for steps in (8, 16, 32, 64):
        assert toy_error("dpmpp_2m", steps, shift) < toy_error("euler", steps, shift)
    assert toy_error("dpmpp_2m", 32, shift) < toy_error("euler", 32, shift) / 2.5


def test_both_solvers_converge_to_the_exact_solution():
    for solver in ("euler", "dpmpp_2m"):
        errors = [toy_error(solver, steps) for steps in (8, 32, 128)]
        assert errors[0] > errors[1] > errors[2]
        assert errors[2] < 0.02


def test_single_step_solvers_agree_with_an_euler_step():
    z = torch.randn(8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    grid = time_grid(1).to(torch.float64)
    assert torch.allclose(sample(gaussian_velocity, z, grid, "dpmpp_2m"), sample(gaussian_velocity, z, grid, "euler"))


def test_cfg_combines_branches_and_unconditional_branch_sees_its_own_inputs():
    seen = []

    def cond(x, t):
        seen.append("cond")
        return torch.full_like(x, 2.0)

    def uncond(x, t):
        seen.append("uncond")
        return torch.full_like(x, 0.5)

    out = sample(cond, torch.zeros(2), time_grid(1), guidance=Guidance(scale=3.0), uncond_velocity_fn=uncond)
    # v = 0.5 + 3·(2 − 0.5) = 5; one Euler step from 1 to 0 gives x = −5.
    assert torch.allclose(out, torch.full((2,), -5.0))
    assert seen == ["cond", "uncond"]


def test_cfg_scale_one_never_calls_unconditional_branch():
    def uncond(x, t):
        raise AssertionError("unconditional branch evaluated at scale 1")

    sample(lambda x, t: x, torch.ones(2), time_grid(3), guidance=Guidance(scale=1.0), uncond_velocity_fn=uncond)


def test_cfg_without_unconditional_branch_is_an_error():
    with pytest.raises(ValueError, match="unconditional"):
        sample(lambda x, t: x, torch.ones(2), time_grid(2), guidance=Guidance(scale=2.0))


def test_guidance_rescale_restores_conditional_std():
    g = torch.Generator().manual_seed(4)
    v_c, v_u = torch.randn(2, 50, generator=g), torch.randn(2, 50, generator=g)
    out = combine_guidance(v_c, v_u, Guidance(scale=5.0, rescale=1.0))
    torch.testing.assert_close(out.std(dim=1), v_c.std(dim=1))


def test_bad_solver_and_bad_grid_are_rejected():
    with pytest.raises(ValueError, match="solver"):
        sample(lambda x, t: x, torch.ones(1), time_grid(2), solver="rk4")
    with pytest.raises(ValueError, match="decreasing"):
        sample(lambda x, t: x, torch.ones(1), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="num_steps"):
        time_grid(0)
