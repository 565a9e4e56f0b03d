"""Training recipe for the lab latent codec (`fpbench train bench/train/configs/codec.yaml`).

Reads top to bottom: render frames from the world; for the "linear" kind fit the patch PCA; for
the "conv" kind train the autoencoder on random batches with a little latent noise (so the decoder
tolerates imperfect generated latents) and measure the per-channel latent statistics as its
normalisation; then report held-out PSNR.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.atomic_files import atomic_write_json
from bench.train.common import seed_everything
from bench.train.data import render_frames
from bench.train.trainer import Trainer
from framepack.lab.codec import LabCodec, LabCodecConfig


@dataclass
class CodecTrainConfig:
    """Codec training settings (all keys of the YAML file).

    Args:
        out: checkpoint path; the loss log (.parquet), curve (.png) and report (.json) go beside it.
        run_dir: resumable state of a trained codec (`last.pt`; the conv kind and the refiner);
            default `runs/<out's stem>`, so two codecs never resume each other's state.
        kind, latent_channels, downsample, widths: the codec's shape (see `LabCodecConfig`).
        whitening: for the linear kind, how far the per-channel scale whitens (see `LabCodec.fit_linear`).
        refiner_width, refiner_blocks: linear kind: train a residual refiner after the linear decoder
            (the latent space is unchanged; `latent_noise` makes it robust to generated latents).
        init_from: linear kind: take the PCA transform and normalisation from this codec checkpoint
            instead of fitting (so models trained on its latents stay valid).
        train_clips, frames_per_clip: how many frames are rendered for training.
        heldout_clips: clips (disjoint seeds) for the PSNR report.
        batch_size, lr, max_steps, max_minutes: optimisation; training stops at whichever limit comes first.
        latent_noise: std of Gaussian noise added to latents while training, relative to their std.
        latent_penalty: weight of the mean squared latent (keeps the scale bounded against the noise).
        ema_decay: decay of the weight average that is saved.
        seed: seeds data order and initialisation.
        threads: torch CPU threads.
    """

    out: str = "results/checkpoints/codec.safetensors"
    run_dir: str | None = None
    kind: str = "linear"
    latent_channels: int = 32
    downsample: int = 8
    widths: tuple[int, ...] = ()
    whitening: float = 0.5
    refiner_width: int = 0
    refiner_blocks: int = 2
    init_from: str | None = None
    train_clips: int = 300
    frames_per_clip: int = 12
    heldout_clips: int = 24
    batch_size: int = 32
    lr: float = 2e-3
    max_steps: int = 100_000
    max_minutes: float = 10.0
    latent_noise: float = 0.1
    latent_penalty: float = 1e-3
    ema_decay: float = 0.995
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.run_dir is None:
            self.run_dir = f"runs/{Path(self.out).stem}"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 arrays of the same shape."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * math.log10(255.0**2 / mse))


def _to_float(frames: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@torch.no_grad()
def reconstruct(codec: LabCodec, frames: np.ndarray, batch: int = 64) -> np.ndarray:
    """Encode and decode uint8 frames (N, H, W, 3); returns uint8 (N, H, W, 3)."""
    out = []
    for i in range(0, len(frames), batch):
        x = _to_float(frames[i : i + batch]).unsqueeze(2)  # (B, 3, 1, H, W)
        y = codec.decode(codec.encode(x))[:, :, 0]
        out.append(((y.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy())
    return np.concatenate(out)


@torch.no_grad()
def measure_latent_statistics(codec: LabCodec, frames: np.ndarray, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of the raw (unnormalised) latents of `frames`."""
    latents = torch.cat([codec.encode_frames_raw(_to_float(frames[i : i + batch])) for i in range(0, len(frames), batch)])
    return latents.mean(dim=(0, 2, 3)), latents.std(dim=(0, 2, 3)).clamp_min(1e-4)


def train_codec(config: CodecTrainConfig, show_progress: bool = True) -> dict:
    """Train the codec described by `config`, save it, and return the report dict."""
    torch.set_num_threads(config.threads)
    trainer = Trainer(config.out, config.run_dir, show_progress)
    seed_everything(config.seed)
    out = Path(config.out)
    started = time.time()
    train_frames = render_frames("train", config.train_clips, config.frames_per_clip, seed=config.seed)
    heldout_frames = render_frames("heldout", config.heldout_clips, config.frames_per_clip, seed=config.seed)
    trainer.log(f"rendered {len(train_frames)} train / {len(heldout_frames)} held-out frames in {time.time() - started:.0f}s")
    codec = LabCodec(
        LabCodecConfig(kind=config.kind, latent_channels=config.latent_channels, downsample=config.downsample,
                       widths=config.widths, refiner_width=config.refiner_width, refiner_blocks=config.refiner_blocks)
    )
    if config.kind == "linear" and not config.refiner_width:
        trainer.log(f"codec config {json.dumps(asdict(config))}")
        return _fit_linear(codec, config, train_frames, heldout_frames, out, trainer.log)
    if config.kind == "linear":
        if config.init_from:
            linear = LabCodec.load(config.init_from).state_dict()
            codec.load_state_dict({**codec.state_dict(), **{k: v for k, v in linear.items() if not k.startswith("refiner")}})
        else:
            codec.fit_linear(_to_float(train_frames), whitening=config.whitening)
        for name, parameter in codec.named_parameters():
            parameter.requires_grad_(name.startswith("refiner"))
    optimiser = torch.optim.AdamW([p for p in codec.parameters() if p.requires_grad], lr=config.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(config.seed)
    trainer.start(codec, optimiser, config.ema_decay, random.Random(config.seed), generator,
                  f"codec config {json.dumps(asdict(config))}")
    trainer.log(f"codec parameters {sum(p.numel() for p in codec.parameters())}")
    while trainer.running(config.max_steps, config.max_minutes):
        # Cosine decay over the time budget (or the step budget if that comes first).
        progress = max(trainer.step / config.max_steps, trainer.elapsed / (config.max_minutes * 60))
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        for group in optimiser.param_groups:
            group["lr"] = lr
        index = torch.randint(len(train_frames), (config.batch_size,), generator=generator)
        x = _to_float(train_frames[index.numpy()])
        z = codec.encode_frames_raw(x)
        if config.kind == "linear":
            # Normalised-latent noise of a random level per frame, like a generator's latent errors.
            level = torch.rand(z.shape[0], 1, 1, 1, generator=generator) * config.latent_noise
            noise = torch.randn(z.shape, generator=generator) * level * codec.latent_scale.view(1, -1, 1, 1)
        else:
            noise = torch.randn(z.shape, generator=generator) * config.latent_noise * z.detach().std()
        y = codec.decode_frames_raw(z + noise)
        reconstruction = F.mse_loss(y, x)
        loss = reconstruction + config.latent_penalty * z.pow(2).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        trainer.end_step(reconstruction, lr=lr)

    final = trainer.ema.shadow
    if config.kind == "conv":
        shift, scale = measure_latent_statistics(final, train_frames[:2048])
        final.latent_shift.copy_(shift)
        final.latent_scale.copy_(scale)
    report = {**_report(final, config, heldout_frames, trainer.step, trainer.elapsed), "checkpoint_bytes": None}
    report = trainer.export(report, f"codec {config.latent_channels}x{final.latent_size}x{final.latent_size}",
                            save=lambda: final.save(out))
    trainer.log(f"report {json.dumps(report)}")
    return report


def _fit_linear(codec: LabCodec, config: CodecTrainConfig, train_frames, heldout_frames, out: Path, log) -> dict:
    """The linear kind without a refiner: the patch PCA is fitted, not trained."""
    started = time.time()
    codec.fit_linear(_to_float(train_frames), whitening=config.whitening)
    codec.save(out)
    log(f"fitted patch PCA ({config.latent_channels} components of {config.downsample}x{config.downsample} patches)")
    report = {**_report(codec, config, heldout_frames, 0, time.time() - started), "checkpoint_bytes": out.stat().st_size}
    atomic_write_json(out.with_name(out.stem + "_report.json"), report)
    log(f"report {json.dumps(report)}")
    return report


def _report(final: LabCodec, config: CodecTrainConfig, heldout_frames, steps: int, seconds: float) -> dict:
    """Held-out PSNR and the codec's shape and size."""
    recon = reconstruct(final, heldout_frames)
    return {
        "kind": config.kind,
        "steps": steps,
        "minutes": seconds / 60,
        "heldout_frames": len(heldout_frames),
        "heldout_psnr_db": psnr(recon, heldout_frames),
        "latent_shape": [config.latent_channels, final.latent_size, final.latent_size],
        "parameters": sum(p.numel() for p in final.parameters()),
    }


def perceptor_on_reconstructions(codec: LabCodec, num_clips: int = 32, frames_per_clip: int = 8, seed: int = 0) -> dict:
    """How well the lab perceptor reads held-out frames before and after the codec, against the
    world's ground truth (presence, position error, shape, colour, identity)."""
    from bench.train.data import clip_seeds
    from bench.world import sample_clip
    from metrics.lab.perceptor import LabPerceptor

    perceptor = LabPerceptor.load()
    originals, states = [], []
    for clip_seed in clip_seeds("heldout", num_clips, seed + 7):
        clip = sample_clip(clip_seed, frames_per_clip)
        originals.append(clip.frames)
        states += clip.states
    frames = np.concatenate(originals)
    result = {"frames": len(frames)}
    for label, images in (("original", frames), ("reconstructed", reconstruct(codec, frames))):
        seen = perceptor.perceive(images)
        present = np.array([s.present for s in states])
        truth = np.array([[s.x, s.y] for s in states])
        error = np.linalg.norm(seen.position - truth, axis=1)[present]
        result[label] = {
            "presence_accuracy": float(((seen.present > 0.5) == present).mean()),
            "position_error_px_mean": float(error.mean()),
            "shape_accuracy": float(np.mean([a == s.shape for a, s, p in zip(seen.shape, states, present, strict=True) if p])),
            "colour_accuracy": float(np.mean([a == s.colour for a, s, p in zip(seen.colour, states, present, strict=True) if p])),
            "identity_accuracy": float(np.mean(seen.identity_probs.argmax(1)[present] == np.array([s.identity for s in states])[present])),
            "degradation_mean": float(seen.degradation.mean()),
        }
    return result
