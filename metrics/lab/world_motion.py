"""The lab world's own motion statistics, which the lab Motion and Dynamic backends are scaled by.

Measured by `python -m bench.benchmarks.motion_validity --calibrate` on 24 real clips of the lab world
(validation seeds VALIDATION_SEEDS.start + 20 000 …, 109 frames at 16 fps, 64×64), read by the
committed lab perceptor (2026-12). The validity study uses other seeds.

    net subject displacement over a 1 s window (mean of 3 frames at each end):
        median 5.05 px, 5th percentile 3.16 px, 99th 10.9 px
        (a subject shaking ±1.5 px in place: median 0.86 px, 99th percentile 1.98 px, max 2.54 px)
    perceived second difference |p(t−1) − 2 p(t) + p(t+1)| of the subject centre:
        median 0.15 px, 99th percentile 1.22 px (bounces off the floor are the largest)
        (true positions: 99th percentile 0.65 px; the rest is the perceptor's ≈ 0.2 px reading noise)
    temporal flicker |g(t) − median(g(t−1), g(t), g(t+1))| of grey levels, mean over pixels:
        median 0.04, 99th percentile 0.75 grey levels (smooth motion changes pixels monotonically,
        and a monotone triple is its own median, so only reversals and one-frame flashes count)
"""

from __future__ import annotations

WORLD_FPS = 16.0
WORLD_FRAME_SIZE = 64  # px; pixel statistics scale with min(H, W) / WORLD_FRAME_SIZE

SECOND_DISPLACEMENT_MEDIAN_PX = 5.05
SECOND_DIFFERENCE_P99_PX = 1.22
FLICKER_P99_GREY = 0.75

# Dynamic: a 1 s window moves when the subject travels more than half the world's median second.
DYNAMIC_THRESHOLD_PX = 0.5 * SECOND_DISPLACEMENT_MEDIAN_PX
