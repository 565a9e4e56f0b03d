"""Ground-truth motion of the lab world, the targets of a motion prior.

The world keeps every frame's state (subject and distractor centres and sizes, how far the
background texture has panned), so the true displacement between a generated frame and the
context frame its anchor comes from is known, as synthetic optical-flow datasets know theirs:
`section_velocity` is the subject's velocity over a section, `subject_coverage` its membership.
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
