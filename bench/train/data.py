"""Training data from the lab world: rendered frames for the codec, latent clips for the video models.

Training draws clip seeds from the world's TRAIN_SEEDS, held-out numbers from VALIDATION_SEEDS,
so no test-split clip is ever trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.train.true_motion import motion_table
from bench.world import TRAIN_SEEDS, VALIDATION_SEEDS, sample_clip

SPLIT_SEEDS = {"train": TRAIN_SEEDS, "heldout": VALIDATION_SEEDS}


def clip_seeds(split: str, count: int, seed: int) -> list[int]:
    """`count` distinct world seeds from the `split` ("train" | "heldout") range, chosen by `seed`."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown data split {split!r}; expected one of {', '.join(SPLIT_SEEDS)}")
    seeds = SPLIT_SEEDS[split]
    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    offsets = rng.choice(min(len(seeds), 10_000_000), size=count, replace=False)
    return [seeds.start + int(o) for o in offsets]


def render_frames(split: str, num_clips: int, frames_per_clip: int, seed: int = 0) -> np.ndarray:
    """Frames of `num_clips` world clips, each starting at a random point of its path.

    Returns uint8 (num_clips · frames_per_clip, 64, 64, 3).
    """
    rng = np.random.default_rng([seed, 3])
    frames = []
    for clip_seed in clip_seeds(split, num_clips, seed):
        first = int(rng.integers(0, 200))
        frames.append(sample_clip(clip_seed, frames_per_clip, first_index=first).frames)
    return np.concatenate(frames)


class LatentClipPool:
    """World clips encoded by the codec and kept in memory as float16 latents.

    Attributes:
        latents: (N, C, T, h, w) float16 normalised latents.
        prompts: the N clips' prompts.
        seeds: the N world seeds.
    """

    def __init__(self, latents: torch.Tensor, prompts: list[str], seeds: list[int]) -> None:
        if latents.ndim != 5 or len(prompts) != len(latents) or len(seeds) != len(latents):
            raise ValueError(
                f"latent pool needs latents (N, C, T, h, w) and N prompts/seeds, got {tuple(latents.shape)}, "
                f"{len(prompts)} prompts, {len(seeds)} seeds"
            )
        self.latents = latents
        self.prompts = prompts
        self.seeds = seeds
        self._motion: torch.Tensor | None = None

    @property
    def motion(self) -> torch.Tensor:
        """(N, T, 8) the clips' per-frame ground-truth motion (`bench.train.true_motion.MOTION_COLUMNS`),
        recomputed from the seeds on first use (the clips start at frame 0, at the nominal fps)."""
        if self._motion is None:
            self._motion = motion_table(self.seeds, self.clip_frames)
        return self._motion

    def __len__(self) -> int:
        return len(self.latents)

    @property
    def clip_frames(self) -> int:
        return int(self.latents.shape[2])

    @classmethod
    @torch.no_grad()
    def build(
        cls,
        codec,
        split: str,
        num_clips: int,
        clip_frames: int,
        seed: int = 0,
        cache_dir: str | os.PathLike | None = "runs/cache",
        codec_path: str | os.PathLike | None = None,
        show_progress: bool = True,
    ) -> LatentClipPool:
        """Render `num_clips` clips of `clip_frames` frames from `split` and encode them.

        With `cache_dir`, the pool is stored under a key of its arguments and a hash of the codec's
        encoder (weights and normalisation: what the latents depend on), and reused when asked for
        again. `codec_path` is accepted for symmetry with older callers and not used.
        """
        cache_file = None
        if cache_dir is not None:
            codec_digest = encoder_digest(codec)
            key = json.dumps([split, num_clips, clip_frames, seed, codec_digest])
            cache_file = Path(cache_dir) / f"latent_pool_{hashlib.sha1(key.encode()).hexdigest()[:16]}.pt"
            if cache_file.is_file():
                saved = torch.load(cache_file)
                return cls(saved["latents"], saved["prompts"], saved["seeds"])
        seeds = clip_seeds(split, num_clips, seed)
        chunks, prompts = [], []
        from rich.progress import Progress

        with Progress(disable=not show_progress, transient=True) as progress:
            task = progress.add_task(f"encoding {split} clips", total=len(seeds))
            for clip_seed in seeds:
                clip = sample_clip(clip_seed, clip_frames)
                chunks.append(codec.encode_uint8(clip.frames).to(torch.float16))
                prompts.append(clip.prompt)
                progress.advance(task)
        pool = cls(torch.cat(chunks), prompts, seeds)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
            os.close(fd)
            torch.save({"latents": pool.latents, "prompts": pool.prompts, "seeds": pool.seeds}, tmp)
            os.replace(tmp, cache_file)
        return pool


def encoder_digest(codec) -> str:
    """A hash of what a codec's latents depend on: its encoder weights and latent normalisation."""
    digest = hashlib.sha1()
    for name, tensor in sorted(codec.state_dict().items()):
        if name.startswith("encoder") or name.startswith("latent_"):
            digest.update(name.encode())
            digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
