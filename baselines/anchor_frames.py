"""Anchor frames: a sliding window of recent history plus the start frame kept as a fixed, clean anchor
(as StreamingT2V anchors its chunks to the first frame, against drift).

The window is `f1k1_x_f8k1_g9` (`baselines.sliding_window.anchored_window_schedule`): the anchor takes
one of the history half's nine k1 slots, so the context budget equals the plain sliding window's.
The section plans put the video's first frame in the anchor group in every section, however long
the video, at its true time distance (RoPE); the start frame is also the image conditioning, as in
every image-to-video row.
"""

from __future__ import annotations

from baselines.backbone import BaselineBackbone
from baselines.sliding_window import DEFAULT_SECTION_FRAMES, anchored_window_schedule
from framepack.framepack_generator import FramePackGenerator

NAME = "anchor_frames"


def anchor_frames_backbone(model) -> BaselineBackbone:
    """The backbone as trained and sampled: plain full attention over clean context."""
    return BaselineBackbone(model)


def anchor_frames_lab(
    model, codec, frames_per_section: int = DEFAULT_SECTION_FRAMES, steps: int = 25, **sampler
) -> FramePackGenerator:
    """The anchor-frames generator over a packed model and a lab codec.

    Args:
        model: the fine-tuned `PackedDiT`.
        codec: the lab codec.
        frames_per_section: latent frames per section (the window is as long).
        steps: sampler steps per section.
        **sampler: further `FramePackGenerator` options (solver, shift, guidance, fps).
    """
    return FramePackGenerator(
        anchor_frames_backbone(model),
        codec,
        anchored_window_schedule(frames_per_section),
        order="vanilla",
        steps=steps,
        name=NAME,
        **sampler,
    )
