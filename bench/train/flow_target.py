"""Ground-truth motion of the lab world as flow fields, for supervising a warped anchor's flow head.

The world keeps every frame's state (subject and distractor centres and sizes, how far the
background texture has panned), so the true displacement between a generated frame and the
context frame its anchor comes from is known, as synthetic optical-flow datasets know theirs.
`flow_targets` turns it into the flow a `framepack.lab.anchor_warp.PixelView.warp` should apply: at
each pixel of the generated frame, how far the thing drawn there has moved since the anchor
frame (subject over distractor over background, as the renderer draws them), averaged over each
latent pixel's patch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.world import FRAME_SIZE, NOMINAL_FPS, sample_attributes, states_for

# Columns of a motion table row (one frame of one clip).
MOTION_COLUMNS = ("subject_x", "subject_y", "subject_radius", "distractor_x", "distractor_y",
                  "distractor_radius", "background_x", "background_y")


def motion_rows(states) -> torch.Tensor:
    """(T, 8) motion rows (`MOTION_COLUMNS`) of a clip's `FrameState`s; distractor radius 0 when
    the clip has none, subject radius 0 when it is absent."""
    rows = []
    for s in states:
        d = s.distractor
        rows.append([s.x, s.y, s.radius if s.present else 0.0, d.x if d else 0.0, d.y if d else 0.0,
                     d.radius if d else 0.0, *s.background_offset])
    return torch.tensor(rows, dtype=torch.float32)


def motion_table(seeds: Sequence[int], clip_frames: int, fps: float = NOMINAL_FPS) -> torch.Tensor:
    """(N, T, 8) motion rows of the clips `sample_clip(seed, T)` renders, computed from the seeds
    without rendering."""
    return torch.stack([motion_rows(states_for(sample_attributes(np.random.default_rng(seed)), clip_frames, fps))
                        for seed in seeds])


def subject_coverage(states: torch.Tensor, cell: int) -> torch.Tensor:
    """(B, F, 64 / cell, 64 / cell) the share of each `cell`-px cell covered by the subject, for motion
    rows (B, F, 8) (`MOTION_COLUMNS`): the membership a motion prior should see in those frames."""
    coords = torch.arange(FRAME_SIZE, dtype=torch.float32) + 0.5
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    x, y, r = states[..., 0, None, None], states[..., 1, None, None], states[..., 2, None, None]
    inside = ((xs - x) ** 2 + (ys - y) ** 2 <= r**2).float()  # (B, F, H, W)
    b, f = inside.shape[:2]
    return F.avg_pool2d(inside.reshape(b * f, 1, FRAME_SIZE, FRAME_SIZE), cell).reshape(b, f, FRAME_SIZE // cell, -1)


def section_velocity(target_states: torch.Tensor, anchor_states: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """(B, 2) the subject's constant velocity (px/frame) that best explains its displacement from
    each frame's anchor: least squares of moved_f ≈ v·d_f over the section's frames.

    Args:
        target_states, anchor_states: (B, F, 8) motion rows of the generated frames and their anchors.
        distance: (B, F) frames from each anchor to its frame.
    """
    moved = target_states[..., :2] - anchor_states[..., :2]
    d = distance.to(moved)[..., None]
    return (d * moved).sum(dim=1) / (d**2).sum(dim=1).clamp_min(1.0)


def flow_targets(target_states: torch.Tensor, anchor_states: torch.Tensor, patch: int) -> torch.Tensor:
    """The true flow from anchor frames to target frames, at latent resolution.

    Args:
        target_states, anchor_states: (B, F, 8) motion rows (`MOTION_COLUMNS`) of each generated
            frame and of the context frame its anchor is.
        patch: pixels per latent pixel.
    Returns:
        (B, 2, F, 64 / patch, 64 / patch) displacement (x, y) in pixels, each latent pixel the mean
        over its patch.
    """
    moved = target_states - anchor_states
    coords = torch.arange(FRAME_SIZE, dtype=torch.float32) + 0.5
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")

    def inside(x: torch.Tensor, y: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        """(B, F, H, W) pixels within `radius` of the centres (where the sprite is drawn)."""
        distance = (xs - x[..., None, None]) ** 2 + (ys - y[..., None, None]) ** 2
        return distance <= (radius[..., None, None] ** 2)

    t = target_states
    flow = moved[..., 6:8, None, None].expand(*moved.shape[:2], 2, FRAME_SIZE, FRAME_SIZE).clone()
    for x, y, r, displacement in ((3, 4, 5, moved[..., 3:5]), (0, 1, 2, moved[..., 0:2])):  # subject drawn last
        mask = inside(t[..., x], t[..., y], t[..., r])[:, :, None]
        flow = torch.where(mask, displacement[..., None, None], flow)
    b, f = flow.shape[:2]
    pooled = F.avg_pool2d(flow.reshape(b * f, 2, FRAME_SIZE, FRAME_SIZE), patch)
    return pooled.reshape(b, f, 2, *pooled.shape[-2:]).permute(0, 2, 1, 3, 4).contiguous()
