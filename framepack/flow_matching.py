"""Flow-matching samplers: time grids with a shift, Euler, DPM-Solver++(2M), guidance.

Convention (as diffusers): x_t = (1 - t)·x0 + t·noise with t in [0, 1], t = 1 pure noise;
the model predicts the velocity v = noise - x0, so an Euler step from t to t' is
x_{t'} = x_t + (t' - t)·v and the clean estimate at t is x0 = x_t - t·v.

Everything here is pure math over a `VelocityFn` — a callable (x, t) -> v with `t` a
0-d float tensor in [0, 1]. The section loop (framepack_generator.py) closes over the
model, the packed context and the conditioning to build one; guidance combines two
of them (the unconditional branch may see a different prompt AND a different context).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(x_t, t) -> velocity; `t` is a 0-d float32 tensor in [0, 1]."""

StepCallback = Callable[[int, int, torch.Tensor], None]
"""(step index, number of steps, x after the step) -> None."""

SOLVERS = ("euler", "dpmpp_2m")


def shift_time(t: np.ndarray | torch.Tensor | float, shift: float):
    """Diffusers' static time shift t' = shift·t / (1 + (shift − 1)·t).

    Args:
        t: times in [0, 1] (array, tensor or float; the type is preserved).
        shift: > 0; 1 is the identity, > 1 spends more steps at high noise.
    """
    if shift <= 0:
        raise ValueError(f"shift must be > 0, got {shift}")
    return shift * t / (1 + (shift - 1) * t)


def exponential_shift_time(t: np.ndarray, mu: float) -> np.ndarray:
    """Diffusers' resolution-dependent ("dynamic", exponential) shift e^mu / (e^mu + 1/t − 1).

    Equal to `shift_time(t, e^mu)`; kept separate because diffusers' pipelines pass `mu`.
    At t = 0 it returns 0 (numpy evaluates 1/0 to inf without raising here).
    """
    with np.errstate(divide="ignore"):
        return math.exp(mu) / (math.exp(mu) + (1 / t - 1))


def time_grid(num_steps: int, shift: float = 1.0, mu: float | None = None) -> torch.Tensor:
    """The sampling times, from 1 down to 0: `num_steps + 1` float32 values, last one 0.

    Built exactly as diffusers' `FlowMatchEulerDiscreteScheduler.set_timesteps(sigmas=
    linspace(1, 0, n + 1)[:-1])` does (float32 numpy, shift, then a terminal 0), so Euler
    over this grid matches that scheduler bit for bit.

    Args:
        num_steps: number of solver steps (>= 1).
        shift: static shift (1 = none). Ignored when `mu` is given.
        mu: if given, use the exponential shift with this mu instead (diffusers'
            `use_dynamic_shifting=True`).
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    times = np.linspace(1.0, 0.0, num_steps + 1)[:-1].astype(np.float32)
    if mu is not None:
        times = exponential_shift_time(times, mu).astype(np.float32)
    else:
        times = shift_time(times, shift).astype(np.float32)
    return torch.cat([torch.from_numpy(times).to(torch.float32), torch.zeros(1)])


def euler_step(x: torch.Tensor, velocity: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
    """One Euler step from `t` to `t_next`: x + (t_next − t)·v, computed in at least float32
    (as diffusers' scheduler does) and returned in the velocity's dtype."""
    work = torch.promote_types(x.dtype, torch.float32)
    return (x.to(work) + (t_next - t) * velocity).to(velocity.dtype)


def clean_estimate(x: torch.Tensor, velocity: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x0 = x_t − t·v (the data prediction implied by a velocity)."""
    return x - t * velocity


@dataclass(frozen=True)
class Guidance:
    """Guidance settings for one sampling run.

    Attributes:
        scale: classifier-free guidance weight w: v = v_u + w·(v_c − v_u). 1 means no CFG
            (the unconditional branch is not evaluated at all).
        rescale: guidance rescale φ in [0, 1] (Lin et al.; used by the released FramePack):
            blend the CFG result with a copy rescaled to the conditional branch's std.
        distilled: distilled-guidance strength handed to models that embed it (the released
            FramePack uses 10; diffusers multiplies it by 1000). The samplers do not use it —
            model adapters read it. None means the model has no guidance embedding.
    """

    scale: float = 1.0
    rescale: float = 0.0
    distilled: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rescale <= 1.0:
            raise ValueError(f"guidance rescale must be in [0, 1], got {self.rescale}")

    @property
    def uses_unconditional(self) -> bool:
        return self.scale != 1.0


def combine_guidance(v_cond: torch.Tensor, v_uncond: torch.Tensor, guidance: Guidance) -> torch.Tensor:
    """Classifier-free guidance v_u + w·(v_c − v_u), optionally rescaled toward v_c's std."""
    guided = v_uncond + guidance.scale * (v_cond - v_uncond)
    if guidance.rescale == 0.0:
        return guided
    dims = list(range(1, guided.ndim))
    std_cond = v_cond.std(dim=dims, keepdim=True)
    std_guided = guided.std(dim=dims, keepdim=True).clamp_min(1e-12)
    rescaled = guided * (std_cond / std_guided)
    return guidance.rescale * rescaled + (1.0 - guidance.rescale) * guided


def guided_velocity(cond_fn: VelocityFn, uncond_fn: VelocityFn | None, guidance: Guidance | None) -> VelocityFn:
    """A velocity function applying classifier-free guidance.

    Args:
        cond_fn: the conditional branch.
        uncond_fn: the unconditional branch — built by the caller with whatever conditioning
            and context that branch should see (an empty prompt; or, for history guidance,
            fully-noised history). Required when `guidance.scale != 1`.
        guidance: None or scale 1 returns `cond_fn` unchanged (one model call per step).
    """
    if guidance is None or not guidance.uses_unconditional:
        return cond_fn
    if uncond_fn is None:
        raise ValueError(f"guidance scale {guidance.scale} needs an unconditional velocity function, got None")

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return combine_guidance(cond_fn(x, t), uncond_fn(x, t), guidance)

    return velocity


def _log_inverse_time(t: torch.Tensor) -> torch.Tensor:
    # λ = −log t: the exponential-integrator variable for the linear flow path. Unlike the
    # usual log-SNR log((1−t)/t) it is finite at t = 1, so the first step needs no special case.
    return -torch.log(t.to(torch.float64))


def sample(
    velocity_fn: VelocityFn,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
    solver: str = "euler",
    guidance: Guidance | None = None,
    uncond_velocity_fn: VelocityFn | None = None,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """Integrate the flow ODE from `timesteps[0]` (normally 1, pure noise) to `timesteps[-1]` (0).

    Args:
        velocity_fn: (x, t) -> v, the conditional branch.
        noise: the starting sample x_{timesteps[0]}.
        timesteps: decreasing times, e.g. `time_grid(n, shift)`; n + 1 values give n steps and
            n model evaluations (times guidance branches).
        solver: "euler" (first order; equals diffusers' FlowMatchEulerDiscreteScheduler) or
            "dpmpp_2m" (DPM-Solver++(2M): second-order multistep exponential integrator in
            λ = −log t on the data prediction; first and last steps are first order, as
            in diffusers' `lower_order_final`; a final step to t = 0 returns the data
            prediction).
        guidance: classifier-free guidance settings (None = conditional branch only).
        uncond_velocity_fn: the unconditional branch, needed when guidance.scale != 1.
        on_step: called after every step with (step index, number of steps, x).

    Returns:
        The sample at `timesteps[-1]`, in `noise`'s dtype.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; expected one of {SOLVERS}")
    timesteps = torch.as_tensor(timesteps)
    if timesteps.dtype != torch.float64:
        timesteps = timesteps.to(torch.float32)  # float64 grids stay float64 (accuracy studies)
    if timesteps.ndim != 1 or len(timesteps) < 2:
        raise ValueError(f"timesteps must be 1-D with at least 2 values, got shape {tuple(timesteps.shape)}")
    if not bool((timesteps[1:] < timesteps[:-1]).all()):
        raise ValueError(f"timesteps must be strictly decreasing, got {timesteps.tolist()}")
    fn = guided_velocity(velocity_fn, uncond_velocity_fn, guidance)
    num_steps = len(timesteps) - 1
    x = noise
    previous_x0: torch.Tensor | None = None
    previous_h: torch.Tensor | None = None
    for i in range(num_steps):
        t, t_next = timesteps[i], timesteps[i + 1]
        v = fn(x, t)
        if solver == "euler":
            x = euler_step(x, v, t, t_next)
        else:
            x, previous_x0, previous_h = _dpmpp_2m_step(x, v, t, t_next, previous_x0, previous_h)
        if on_step is not None:
            on_step(i, num_steps, x)
    return x.to(noise.dtype)


def _dpmpp_2m_step(
    x: torch.Tensor,
    v: torch.Tensor,
    t: torch.Tensor,
    t_next: torch.Tensor,
    previous_x0: torch.Tensor | None,
    previous_h: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One DPM-Solver++(2M) step. Returns (x_next, this step's x0, its h)."""
    work = torch.promote_types(x.dtype, torch.float32)
    x32 = x.to(work)
    x0 = clean_estimate(x32, v.to(work), t)
    if float(t_next) == 0.0:
        # λ(0) = ∞: the exponential integrator lands exactly on the data prediction. Like
        # diffusers' `lower_order_final`, the last step is first order (a λ-extrapolation
        # over an infinite step would diverge).
        return x0, x0, None
    h = _log_inverse_time(t_next) - _log_inverse_time(t)
    ratio = float(torch.exp(-h))  # = t_next / t
    if previous_x0 is None or previous_h is None:
        data_term = x0
    else:
        r = float(previous_h / h)
        data_term = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * previous_x0
    x_next = ratio * x32 + (1 - ratio) * data_term
    return x_next, x0, h
