"""Training recipes: examples follow the section plans, seeds fix the weights, resume and DDP are exact."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.train.data import LatentClipPool
from bench.train.examples import PlanChoice, build_batch, random_batch
from bench.train.finetune import FinetuneConfig, model_for_schedule, train_finetune
from bench.world import sample_clip
from framepack.kernels import Kernel
from framepack.lab.codec import LabCodec, LabCodecConfig
from framepack.lab.model import PackedDiT, PackedDiTConfig
from framepack.packing import PatchEmbedding
from framepack.schedule import Schedule
from framepack.section_plan import plan_sections

TINY_MODEL = {"dim": 16, "depth": 1, "heads": 2, "mlp_ratio": 1.0, "text_vocab": 64, "kernels": ["k2"]}


def small_linear_codec() -> LabCodec:
    """A 4-channel patch-PCA codec fitted on three world clips."""
    frames = np.concatenate([sample_clip(seed, 2).frames for seed in range(3)])
    codec = LabCodec(LabCodecConfig(kind="linear", latent_channels=4, downsample=8))
    codec.fit_linear(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
    return codec


@pytest.fixture(scope="module")
def codec_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("codec") / "codec.safetensors"
    small_linear_codec().save(path)
    return str(path)


def tiny_config(tmp_path, codec_path, **overrides) -> FinetuneConfig:
    values = dict(
        schedule="td_f2k2f1k1_g2", out=str(tmp_path / "out" / "fp.safetensors"), run_dir=str(tmp_path / "run"),
        cache_dir=str(tmp_path.parent / "cache"), base=None, model=TINY_MODEL, codec=codec_path, max_sections=2,
        train_clips=3, clip_frames=6, heldout_clips=2, batch_size=4, max_steps=3, eval_batches=0, threads=1,
        lr=1e-3, warmup_steps=1,
    )
    values.update(overrides)
    return FinetuneConfig(**values)


def final_weights(config: FinetuneConfig) -> dict[str, torch.Tensor]:
    return torch.load(f"{config.run_dir}/last.pt", weights_only=False)["model"]


def assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=0 if atol == 0 else 1e-4, msg=name)


def test_batch_targets_and_context_are_the_planned_frames():
    latents = torch.randn(3, 4, 12, 2, 2).half()
    pool = LatentClipPool(latents, ["a", "b", "c"], [0, 1, 2])
    plan = plan_sections("td_f2k2f1k1_g2", 3, "vanilla", has_start=True)[2]  # frames 5, 6; history 4, (2, 3)
    batch = build_batch(pool, plan, video_frames=7, clip_ids=[2, 0], offsets=[1, 3], has_start=True)
    for row, (clip, offset) in enumerate([(2, 1), (0, 3)]):
        torch.testing.assert_close(batch.target[row], latents[clip, :, [offset + 5, offset + 6]].float())
        torch.testing.assert_close(batch.start_latent[row], latents[clip, :, offset].float())
        for group, piece in zip(batch.context, plan.context, strict=True):
            for slot, frame in enumerate(piece.frames):
                expected = latents[clip, :, offset + frame].float()
                torch.testing.assert_close(group.latents[row, :, slot], expected)
        # copy-last baseline: the nearest real context frame (frame 4) for both generated frames
        torch.testing.assert_close(batch.last_context[row, :, 1], latents[clip, :, offset + 4].float())
    assert batch.noisy_indices.tolist() == list(plan.generated_positions)
    assert batch.prompts == ["c", "a"]


def test_frames_missing_before_the_video_are_zero_filled():
    pool = LatentClipPool(torch.ones(1, 4, 8, 2, 2).half(), ["p"], [0])
    plan = plan_sections("td_f4k2f1k1_g2", 2, "vanilla", has_start=False)[0]  # nothing before section 0
    batch = build_batch(pool, plan, video_frames=4, clip_ids=[0], offsets=[0], has_start=False)
    assert all(float(group.latents.abs().sum()) == 0 for group in batch.context)
    assert batch.last_context is None and batch.start_latent is None


def test_random_batches_share_one_plan_and_are_seeded():
    pool = LatentClipPool(torch.randn(4, 4, 30, 2, 2).half(), list("abcd"), [0, 1, 2, 3])
    choices = [PlanChoice("f1k1_x_g3_f1k1f2k2_td", "inverted_anti_drifting"), PlanChoice("td_f2k2f1k1_g3", "vanilla")]
    first = random_batch(pool, choices, 4, 3, random.Random(5))[1]
    again = random_batch(pool, choices, 4, 3, random.Random(5))[1]
    torch.testing.assert_close(first.target, again.target)
    assert first.plan == again.plan and first.target.shape == (3, 4, 3, 2, 2)


def test_new_kernel_embedding_starts_as_average_pool_then_k1():
    base = PackedDiT(PackedDiTConfig(latent_channels=4, dim=16, depth=1, heads=2, text_vocab=64, kernels=("k2",)))
    extended = model_for_schedule(base, Schedule.parse("td_f16k4f2k2f1k1_g2"))
    k4 = Kernel.from_level(4)
    assert k4 in extended.config.kernel_objects()
    latents = torch.randn(1, 4, 4, 8, 8)
    pooled = torch.nn.functional.avg_pool3d(latents, (4, 4, 4))
    k1 = extended.context_embeddings["t1h2w2"]
    expected = PatchEmbedding.forward(k1, pooled)
    torch.testing.assert_close(extended.context_embeddings[k4.key](latents), expected, atol=1e-5, rtol=1e-4)
    # the base's own weights are kept
    torch.testing.assert_close(extended.context_embeddings["t1h2w2"].proj.weight, base.context_embeddings["t1h2w2"].proj.weight)


def test_same_seed_gives_the_same_weights_and_another_seed_does_not(tmp_path, codec_path):
    a = tiny_config(tmp_path / "a", codec_path)
    b = tiny_config(tmp_path / "b", codec_path)
    c = tiny_config(tmp_path / "c", codec_path, seed=1)
    for config in (a, b, c):
        train_finetune(config, show_progress=False)
    assert_same_weights(final_weights(a), final_weights(b))
    with pytest.raises(AssertionError):
        assert_same_weights(final_weights(a), final_weights(c))


def test_resuming_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path, codec_path):
    straight = tiny_config(tmp_path / "straight", codec_path, max_steps=4)
    train_finetune(straight, show_progress=False)
    interrupted = tiny_config(tmp_path / "resumed", codec_path, max_steps=2)
    train_finetune(interrupted, show_progress=False)
    resumed = tiny_config(tmp_path / "resumed", codec_path, max_steps=4)
    report = train_finetune(resumed, show_progress=False)
    assert report["steps"] == 4
    assert_same_weights(final_weights(straight), final_weights(resumed))


def test_finetune_writes_checkpoint_sidecar_and_loss_log(tmp_path, codec_path):
    import json

    import pandas as pd

    config = tiny_config(tmp_path, codec_path, schedule="td_f2k2f1k1_g2+D", codebook=str(tmp_path / "cb.safetensors"),
                         codebook_size=8, eval_batches=1, eval_batch_size=2, eval_steps=2)
    train_finetune(config, show_progress=False)
    sidecar = json.loads((tmp_path / "out" / "fp.json").read_text())
    assert sidecar["schedule"] == "td_f2k2f1k1_g2+D" and sidecar["order"] == "vanilla"
    assert sidecar["codebook"] == str(tmp_path / "cb.safetensors") and (tmp_path / "cb.safetensors").is_file()
    assert "eval_latent_copy_last" in sidecar
    losses = pd.read_parquet(tmp_path / "out" / "fp_loss.parquet")
    assert losses["step"].max() == 3 and losses["loss"].dropna().gt(0).all()
    assert (tmp_path / "out" / "fp_loss.png").is_file()
    assert PackedDiT.load(tmp_path / "out" / "fp.safetensors").config.dim == 16


def test_plus_d_without_a_codebook_path_is_rejected(tmp_path, codec_path):
    with pytest.raises(ValueError, match="codebook"):
        tiny_config(tmp_path, codec_path, schedule="td_f2k2f1k1_g2+D")


def _ddp_worker(rank: int, world: int, port: int, config: FinetuneConfig) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    train_finetune(config, show_progress=False)
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_ddp_processes_match_one_process_with_the_same_global_batch(tmp_path, codec_path):
    import socket

    import torch.multiprocessing as mp

    single = tiny_config(tmp_path / "single", codec_path, max_steps=2)
    train_finetune(single, show_progress=False)
    double = tiny_config(tmp_path / "ddp", codec_path, max_steps=2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, double), nprocs=2, join=True)
    assert_same_weights(final_weights(single), final_weights(double), atol=1e-6)


@torch.no_grad()
def test_preconditioned_loss_is_the_networks_unit_variance_target_loss():
    from bench.train.objective import flow_matching_loss_at

    latents = torch.randn(3, 4, 12, 2, 2).half()
    pool = LatentClipPool(latents, ["a", "b", "c"], [0, 1, 2])
    plan = plan_sections("td_f2k2f1k1_g2", 3, "vanilla", has_start=True)[2]
    batch = build_batch(pool, plan, video_frames=7, clip_ids=[2, 0], offsets=[1, 3], has_start=True)
    from framepack.lab.context_anchor import nearest_context

    model = PackedDiT(PackedDiTConfig(latent_channels=4, seed=1, **TINY_MODEL)).eval()
    cond = model.text_encoder().condition(batch.prompts, batch.start_latent)
    t, noise = torch.tensor([0.2, 0.9]), torch.randn(batch.target.shape)
    loss = flow_matching_loss_at(model, batch, cond, t, noise, "preconditioned")
    # the same loss written out in the network's own output F
    tt = t.view(-1, 1, 1, 1, 1)
    x0 = batch.target
    anchor = nearest_context(x0.shape, batch.noisy_indices, batch.context, cond.image_latent)[0]
    x_t = (1 - tt) * x0 + tt * noise
    residual = x_t - (1 - tt) * anchor
    native = model.backbone(residual, batch.noisy_indices, t[:, None].expand(-1, x0.shape[2]), batch.context, cond)
    norm = ((1 - tt) ** 2 + tt**2).sqrt()
    c_skip, c_out = (1 - tt) / norm**2, tt / norm
    target = (x0 - anchor - c_skip * residual) / c_out
    torch.testing.assert_close(loss, torch.nn.functional.mse_loss(native, target), rtol=1e-4, atol=1e-5)


def test_held_out_batches_of_a_tail_schedule_always_contain_the_tail(tmp_path, codec_path):
    from bench.train.finetune import held_out_batches

    pool = LatentClipPool(torch.randn(4, 4, 40, 2, 2).half(), list("abcd"), [0, 1, 2, 3])
    for mode in ("ta", "tc"):
        schedule = Schedule.parse(f"{mode}_f2k2f1k1_g2")
        config = tiny_config(tmp_path, codec_path, schedule=str(schedule), max_sections=12, eval_batches=6,
                             eval_batch_size=2)
        batches = held_out_batches(pool, PlanChoice(str(schedule), "vanilla", has_start=True), schedule, config)
        assert len(batches) == 6
        assert all(any(group.tail_mode == mode for group in batch.context) for batch in batches)
    td = Schedule.parse("td_f2k2f1k1_g2")
    config = tiny_config(tmp_path, codec_path, max_sections=12, eval_batches=6, eval_batch_size=2)
    batches = held_out_batches(pool, PlanChoice(str(td), "vanilla", has_start=True), td, config)
    assert not any(group.tail_mode for batch in batches for group in batch.context)  # td drops its tail
    short = tiny_config(tmp_path, codec_path, schedule="ta_f2k2f1k1_g2", max_sections=1, eval_batches=1, eval_batch_size=1)
    with pytest.raises(ValueError, match="max_sections"):  # one section never has history, let alone a tail
        held_out_batches(pool, PlanChoice("ta_f2k2f1k1_g2", "vanilla", has_start=True), Schedule.parse("ta_f2k2f1k1_g2"), short)


def test_discrete_history_keeps_missing_frames_zero():
    from framepack.discrete_history import Codebook

    codebook = Codebook(torch.full((2, 4), 5.0) * torch.tensor([[1.0], [-1.0]]))  # no codeword near zero
    latents = torch.randn(2, 4, 12, 2, 2).half()
    pool = LatentClipPool(latents, ["a", "b"], [0, 1])
    plan = plan_sections("td_f2k2f1k1_g2", 3, "vanilla", has_start=False)[0]  # no history yet: all missing
    batch = build_batch(pool, plan, video_frames=6, clip_ids=[0, 1], offsets=[0, 0], has_start=False,
                        quantize_history=codebook.quantize)
    history = [g for g in batch.context if g.latents.shape[2]]
    assert history and all(float(g.latents.abs().max()) == 0.0 for g in history)
    later = plan_sections("td_f2k2f1k1_g2", 3, "vanilla", has_start=False)[2]  # real history frames exist
    batch = build_batch(pool, later, video_frames=6, clip_ids=[0, 1], offsets=[0, 0], has_start=False,
                        quantize_history=codebook.quantize)
    assert any(float(g.latents.abs().min()) > 0 for g in batch.context)


def test_finetune_model_overrides_add_a_motion_prior_to_a_base_and_train_it_at_its_own_rate(tmp_path, codec_path):
    base = tiny_config(tmp_path / "base", codec_path, model=TINY_MODEL, loss_target="preconditioned", max_steps=1)
    train_finetune(base, show_progress=False)
    overrides = {"motion_prior": True}
    runs = {scale: tiny_config(tmp_path / f"s{scale}", codec_path, base=base.out, model=None, model_overrides=overrides,
                               loss_target="preconditioned", max_steps=1, prior_lr_scale=scale) for scale in (1.0, 10.0)}
    for config in runs.values():
        train_finetune(config, show_progress=False)
    start = PackedDiT.load(base.out).state_dict()
    slow, fast = final_weights(runs[1.0]), final_weights(runs[10.0])
    model = PackedDiT.load(runs[1.0].out)
    assert model.config.motion_prior and hasattr(model, "motion_prior")
    # the codec's basis came with the warp, so a move is a real move
    assert model.pixel_view.components.abs().sum() > 0
    # one Adam step moves each parameter by about lr × its group's scale
    name = "motion_prior.velocity_head.2.bias"
    initial = PackedDiT(model.config).state_dict()[name]
    assert (fast[name] - initial).abs().mean() > 5 * (slow[name] - initial).abs().mean()
    backbone = "final_proj.bias"
    torch.testing.assert_close((fast[backbone] - start[backbone]).abs().mean(), (slow[backbone] - start[backbone]).abs().mean(),
                               rtol=0.2, atol=1e-6)
    with pytest.raises(ValueError, match="prior_lr_scale"):
        tiny_config(tmp_path / "bad", codec_path, prior_lr_scale=0.0)


def test_prior_stage_retrains_only_the_prior_of_a_finished_fine_tune(tmp_path, codec_path):
    from safetensors.torch import load_file, save_file

    from bench.train.prior_stage import reset_prior, restage

    prior_model = {**TINY_MODEL, "motion_prior": True}
    config = tiny_config(tmp_path, codec_path, model=prior_model, loss_target="preconditioned", max_steps=1,
                         prior_steps=2, prior_batch_size=2)
    report = train_finetune(config, show_progress=False)  # the fine-tune ends with the stage
    assert report["prior_steps"] == 2 and report["prior_loss_last_tenth"] > 0
    before = load_file(config.out)
    # an earlier prior design (other shapes) is replaced, every other weight is kept
    save_file({k: (torch.zeros(3) if k == "motion_prior.velocity_head.0.weight" else v) for k, v in before.items()},
              config.out, metadata={"format": "framepack-bench/PackedDiT/2",
                                    "config": json.dumps(PackedDiT.load_config(config.out).config.to_dict())})
    summary = restage(config, show_progress=False)
    after = load_file(config.out)
    assert summary["prior_steps"] == 2
    assert after.keys() == before.keys()
    for name in before:
        if name.startswith("motion_prior."):
            continue
        assert torch.equal(after[name], before[name]), name
    # the stage is seeded: it reproduces the fine-tune's own stage, and it did train the fresh prior
    for name in [k for k in before if k.startswith("motion_prior.")]:
        torch.testing.assert_close(after[name].float(), before[name].float(), atol=2e-3, rtol=1e-2, msg=name)
    fresh = PackedDiT.load_config(config.out)
    reset_prior(fresh, config.seed)
    initial = fresh.motion_prior.velocity_head[-1].weight
    assert (after["motion_prior.velocity_head.2.weight"].float() - initial).abs().max() > 1e-4
    sidecar = json.loads(Path(config.out).with_suffix(".json").read_text())
    assert sidecar["prior_steps"] == 2 and sidecar["checkpoint_bytes"] == Path(config.out).stat().st_size
    # a config without a stage is refused
    with pytest.raises(ValueError, match="prior_steps"):
        restage(tiny_config(tmp_path, codec_path, model=prior_model, prior_steps=0), show_progress=False)


def test_prior_stage_videos_start_at_their_clips_first_frame():
    pool = LatentClipPool.build(small_linear_codec(), "heldout", 3, 30, 0, cache_dir=None, show_progress=False)
    choices = [PlanChoice("f1k1_x_g2_f1k1f2k2f16k4_td", "inverted_anti_drifting", has_start=True)]
    for seed in range(5):
        _, batch = random_batch(pool, choices, 2, 4, random.Random(seed), from_clip_start=True)
        assert torch.equal(batch.start_latent, pool.latents[batch.clip_ids, :, 0].float())
    _, shifted = random_batch(pool, choices, 1, 8, random.Random(0))
    assert not torch.equal(shifted.start_latent, pool.latents[shifted.clip_ids, :, 0].float())


def test_prior_stage_quantizes_only_the_anchor_groups_and_its_anchors_are_the_main_loops():
    from bench.train.prior_stage import quantize_anchor_groups
    from framepack.discrete_history import Codebook
    from framepack.lab.context_anchor import nearest_context

    pool = LatentClipPool.build(small_linear_codec(), "heldout", 3, 40, 0, cache_dir=None, show_progress=False)
    codebook = Codebook(torch.randn(8, 4, generator=torch.Generator().manual_seed(0)))
    choices = [PlanChoice("td_f4k4f2k2f1k1_g2+D", "vanilla", has_start=True)]
    coarse_differs = []
    for seed in range(6):
        _, whole = random_batch(pool, choices, 8, 4, random.Random(seed), codebook.quantize, from_clip_start=True)
        _, plain = random_batch(pool, choices, 8, 4, random.Random(seed), None, from_clip_start=True)
        only = quantize_anchor_groups(plain, codebook.quantize)
        anchors = [nearest_context(b.target.shape, b.noisy_indices, b.context, b.start_latent) for b in (whole, only)]
        assert torch.equal(anchors[0][0], anchors[1][0]) and torch.equal(anchors[0][1], anchors[1][1])
        k1 = [i for i, g in enumerate(only.context) if g.kernel.key == "k1"]
        coarse = [i for i, g in enumerate(only.context) if g.kernel.key != "k1"]
        assert all(torch.equal(only.context[i].latents, whole.context[i].latents) for i in k1)
        coarse_differs += [not torch.equal(only.context[i].latents, whole.context[i].latents) for i in coarse]
    assert any(coarse_differs)  # the coarse groups, which the prior never reads, keep their real latents
