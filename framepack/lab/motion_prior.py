"""A section's motion, drawn once before denoising, for warped anchors (`motion_prior: true`).

A flow head that predicts a section's motion from the noisy section at high noise predicts the
mean of the motions the prompt and the start frame allow. On the lab world (bounce and orbit phases,
unknown speeds) that mean is near zero, so the sampler follows a still, sharp anchor and copies
(docs/lab-models.md, "Dropped designs"). Here the motion is a random
variable the sampler commits to first, as a video codec sends its motion vectors before the residual:

- velocity: the subject's velocity in px/frame, one per section, a categorical distribution over a
  grid (a bounce that may rise or fall is two peaks, not their mean), read from the section's
  anchors, their distances and frame indices, the model's pooled prompt vector and the prompt's
  phrases through its own word embedding and two convolutions along the prompt (the pooled vector
  did not carry the direction words to it within a fine-tune, and a bag of words cannot tell
  "drifts right … pans left" from "drifts left … pans right"), and drawn once per section with
  the sampler's generator;
- membership: which pixels of each anchor frame belong to the subject (2-px cells), a
  deterministic map, since the subject is visible in the anchor.

Frame f at distance d_f from its anchor gets the flow v·d_f where the subject will be (the
membership moved by v·d_f) and none elsewhere: a hard-edged rigid motion, finer than a flow per
latent pixel, whose blending of subject and background at the sprite's edge was the warp's main
loss of detail (docs/lab-models.md, "Dropped designs"). The background (pans of at most 0.2 px/frame)
stays, for the correction.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

VELOCITY_STEP_PX = 0.25  # grid spacing of the velocity distribution, px/frame
VELOCITY_LIMIT_PX = 2.5  # largest speed per axis (lab subjects: at most about 2.4 px/frame)
MEMBERSHIP_CELL_PX = 2  # membership resolution in pixels
DISTANCE_SCALE = 16.0  # frames; the prior reads its anchors' distances in these units


class SectionMotion(NamedTuple):
    """A section's motion: `velocity` (B, 2) of the subject in px/frame (x, y), and optionally
    `membership` (B, F, H/2, W/2), the share of each 2-px cell of each frame's anchor covered by
    the subject (None: the model's own estimate)."""

    velocity: torch.Tensor
    membership: torch.Tensor | None = None


def velocity_values() -> torch.Tensor:
    """The grid values of one axis, −limit … limit in steps of `VELOCITY_STEP_PX`."""
    count = round(2 * VELOCITY_LIMIT_PX / VELOCITY_STEP_PX) + 1
    return torch.linspace(-VELOCITY_LIMIT_PX, VELOCITY_LIMIT_PX, count)


def velocity_bins() -> torch.Tensor:
    """(K, 2) every (vx, vy) of the grid; bin k = iy·n + ix."""
    values = velocity_values()
    vy, vx = torch.meshgrid(values, values, indexing="ij")
    return torch.stack([vx.reshape(-1), vy.reshape(-1)], dim=1)


def soft_velocity_target(velocity: torch.Tensor) -> torch.Tensor:
    """(B, K) a velocity (B, 2) spread bilinearly over its four nearest bins (clamped to the grid),
    so the distribution's target keeps sub-bin values."""
    n = velocity_values().numel()
    position = ((velocity.clamp(-VELOCITY_LIMIT_PX, VELOCITY_LIMIT_PX) + VELOCITY_LIMIT_PX) / VELOCITY_STEP_PX)
    low = position.floor().clamp(0, n - 2)
    frac = position - low
    low = low.long()
    target = velocity.new_zeros(velocity.shape[0], n, n)  # (B, y, x)
    rows = torch.arange(velocity.shape[0])
    for dy, wy in ((0, 1 - frac[:, 1]), (1, frac[:, 1])):
        for dx, wx in ((0, 1 - frac[:, 0]), (1, frac[:, 0])):
            target[rows, low[:, 1] + dy, low[:, 0] + dx] += wy * wx
    return target.reshape(velocity.shape[0], -1)


class MotionPrior(nn.Module):
    """Velocity distribution and subject membership of a section, from its anchors and prompt.

    Args:
        channels: latent channels of the anchors.
        condition_dim: width of the model's pooled prompt (and start frame) vector.
        vocab: size of the prompt's word-id space (`framepack.lab.text_encoder.LabTextEncoder`).
        patch: pixels per latent pixel (membership is predicted per 2-px cell inside each).
        hidden: convolution width.
        word_dim: width of its word embedding (averaged over the prompt).
    """

    def __init__(self, channels: int, condition_dim: int, vocab: int, patch: int, hidden: int = 48,
                 word_dim: int = 64) -> None:
        super().__init__()
        if patch % MEMBERSHIP_CELL_PX:
            raise ValueError(f"MotionPrior needs a patch divisible by {MEMBERSHIP_CELL_PX}, got {patch}")
        self.cells = patch // MEMBERSHIP_CELL_PX
        self.velocity_features = nn.Sequential(
            nn.Conv2d(2 * channels, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.SiLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        bins = velocity_bins().shape[0]
        self.words = nn.Embedding(vocab, word_dim)
        # word order matters: "drifts right … pans left" and "drifts left … pans right" share their words
        self.phrases = nn.Sequential(nn.Conv1d(word_dim, word_dim, 5, padding=2), nn.SiLU(),
                                     nn.Conv1d(word_dim, word_dim, 5, padding=2), nn.SiLU())
        self.velocity_head = nn.Sequential(nn.Linear(16 * hidden + condition_dim + word_dim + 4, 256), nn.SiLU(), nn.Linear(256, bins))
        self.membership_head = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, self.cells**2, 1),
        )
        self.register_buffer("bins", velocity_bins(), persistent=False)

    def velocity_logits(self, first_anchor: torch.Tensor, last_anchor: torch.Tensor, timing: torch.Tensor,
                        condition: torch.Tensor, text_ids: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """(B, K) logits over `velocity_bins` from the anchors (B, C, h, w) of the section's first and
        last frames; `timing` (B, 4): their distances in frames to those frames (a far anchor, such as
        the start frame of an inverted video's last section, gives a smaller mean velocity than a near
        one) and their own frame indices in the video (the prompt describes the motion at frame 0;
        later, a drift may have turned at a wall); the pooled condition (B, condition_dim) and the
        prompt's word ids (B, L) with their mask (B, L)."""
        features = self.velocity_features(torch.cat([first_anchor, last_anchor], dim=1))
        weights = text_mask.to(features).unsqueeze(-1)
        phrases = self.phrases((self.words(text_ids) * weights).transpose(1, 2)).transpose(1, 2)
        words = (phrases * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.velocity_head(torch.cat([features, condition, words, timing.to(features) / DISTANCE_SCALE], dim=1))

    def membership_logits(self, anchors: torch.Tensor) -> torch.Tensor:
        """(B, F, h·cells, w·cells) subject-membership logits of each frame's anchor (B, C, F, h, w)."""
        b, c, f, h, w = anchors.shape
        frames = anchors.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        cells = F.pixel_shuffle(self.membership_head(frames), self.cells)  # (B·F, 1, h·cells, w·cells)
        return cells.reshape(b, f, *cells.shape[-2:])

    def draw(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, 2) velocities drawn from the distribution: a bin, then uniformly within it."""
        probabilities = torch.softmax(logits.float(), dim=1)
        chosen = torch.multinomial(probabilities, 1, generator=generator)[:, 0]
        jitter = (torch.rand(logits.shape[0], 2, generator=generator) - 0.5) * VELOCITY_STEP_PX
        return self.bins[chosen] + jitter.to(self.bins)

    def most_likely(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, 2) the velocity of the most probable bin (the default when nothing was drawn)."""
        return self.bins[logits.argmax(dim=1)]


def rigid_flow(velocity: torch.Tensor, membership: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """The flow (B, 2, F, H', W') in pixels that moves the subject of each frame's anchor by v·d_f.

    Args:
        velocity: (B, 2) px/frame.
        membership: (B, F, H', W') subject share of each anchor's `MEMBERSHIP_CELL_PX` cells, in [0, 1].
        distance: (B, F) frames from each frame's anchor to the frame (negative for a later anchor).
    A warp reads each output pixel at its position minus the flow, so the flow is set where the
    subject arrives: the membership moved by the same displacement.
    """
    b, f, h, w = membership.shape
    shift = velocity[:, :, None] * distance[:, None, :].to(velocity)  # (B, 2, F) pixels
    ys = (torch.arange(h, dtype=velocity.dtype) + 0.5) * 2 / h - 1
    xs = (torch.arange(w, dtype=velocity.dtype) + 0.5) * 2 / w - 1
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H', W', 2)
    cells = shift.permute(0, 2, 1).reshape(b * f, 1, 1, 2) / MEMBERSHIP_CELL_PX
    offset = cells * torch.tensor([2 / w, 2 / h]).to(velocity)
    arrived = F.grid_sample(membership.reshape(b * f, 1, h, w).to(velocity), base - offset, mode="bilinear",
                            padding_mode="zeros", align_corners=False)
    return arrived.reshape(b, f, 1, h, w).permute(0, 2, 1, 3, 4) * shift[:, :, :, None, None]
