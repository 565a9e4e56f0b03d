import pytest
import torch
import torch.nn.functional as F

from framepack.kernels import K1, Kernel
from framepack.lab.model import PackedDiT, PackedDiTConfig
from framepack.packed_group import PackedGroup
from framepack.packing import PatchEmbedding, pad_to_kernel
from framepack.schedule import Group, Schedule, Tail

CHANNELS = 4


def tiny_model(kernels=("k1", "k2", "k4", "k8", "k4h2w2", "k1h4w4")) -> PackedDiT:
    return PackedDiT(PackedDiTConfig(latent_channels=CHANNELS, dim=16, depth=1, heads=2, kernels=kernels, text_vocab=64))


def context_from_schedule(schedule: Schedule, history: int, latent_hw) -> list[PackedGroup]:
    """Frames for every history side and anchor, distributed by `Schedule.assign` and packed piece
    by piece as a sampler would (frame indices are arbitrary but distinct)."""
    sides = {}
    for direction in (-1, +1):
        available = (history if schedule.side_has_history(direction) else 0) + schedule.anchor_frames(direction)
        sides[direction] = [1000 + direction * (i + 1) for i in range(available)]  # nearest first
    groups = []
    for piece, frames in zip(schedule.pieces, schedule.assign(sides[-1], sides[+1]), strict=True):
        if not frames:
            continue
        latents = torch.randn(1, CHANNELS, len(frames), *latent_hw)
        if isinstance(piece, Group):
            groups.append(PackedGroup(latents, torch.tensor(frames), piece.kernel))
        elif isinstance(piece, Tail) and piece.mode != "td":
            groups.append(PackedGroup(latents, torch.tensor(frames), schedule.tail_kernel, tail_mode=piece.mode))
    return groups


@pytest.mark.parametrize(
    "text",
    [
        "td_f16k4f4k2f1k1_g9",
        "ta_f16k4f2k2f1k1_g4",
        "tc_f16k4f2k2f1k1_g1",
        "td_f16k4f4k2f1k1_g9_x_f1k1",
        "td_f8k4h2w2f2k1h4w4f1k1_g9",
        "ta_f2k8f16k4f2k2f1k1_g2",
        "f1k1_x_g9_f1k1f2k2f16k4_td",
        "f1k1_tc_f16k4f2k2f1k1_g9",
        "ta_f16k4f2k2f1k1_g9_f1k1f2k2f16k4_ta",
    ],
)
def test_schedule_token_count_equals_tokens_the_packer_produces(text):
    schedule = Schedule.parse(text)
    model = tiny_model()
    for latent_hw in [(8, 8), (6, 10)]:
        for history in (0, 1, 3, 19, 30):
            context = context_from_schedule(schedule, history, latent_hw)
            section = schedule.frames_per_section
            noisy = torch.randn(1, CHANNELS, section, *latent_hw)
            sequence, _ = model.pack(noisy, torch.arange(section), torch.zeros(1, section), context)
            assert sequence.num_tokens == schedule.token_count(history, latent_hw), (text, latent_hw, history)


@pytest.mark.parametrize("mode,expected", [("ta", lambda n: n), ("tc", lambda n: 1)])
def test_tail_modes_give_stated_token_counts(mode, expected):
    model = tiny_model()
    for frames in (1, 3, 8):
        tail = PackedGroup(torch.randn(2, CHANNELS, frames, 8, 8), torch.arange(frames), Kernel.from_level(4), tail_mode=mode)
        noisy = torch.randn(2, CHANNELS, 1, 8, 8)
        sequence, num_context = model.pack(noisy, torch.tensor([frames]), torch.zeros(2, 1), [tail])
        assert num_context == expected(frames)


@pytest.mark.parametrize("level", [2, 4, 8])
def test_coarse_embeddings_start_as_average_pool_then_k1(level):
    torch.manual_seed(0)
    k1 = PatchEmbedding(CHANNELS, 12, K1)
    kernel = Kernel.from_level(level)
    coarse = PatchEmbedding(CHANNELS, 12, kernel)
    coarse.init_from_k1(k1)
    latents = torch.randn(2, CHANNELS, 2 * kernel.t, 2 * kernel.h, kernel.w)
    pooled = F.avg_pool3d(latents, kernel.ratio, kernel.ratio)
    torch.testing.assert_close(coarse(latents), k1(pooled), atol=1e-5, rtol=1e-4)


def test_model_initialises_every_context_kernel_from_k1():
    model = tiny_model()
    k1 = model.context_embeddings[K1.key]
    assert torch.equal(k1.proj.weight, model.noisy_embedding.proj.weight)
    latents = torch.randn(1, CHANNELS, 8, 16, 16)
    for key, embedding in model.context_embeddings.items():
        kernel = embedding.kernel
        pooled = F.avg_pool3d(latents, kernel.ratio, kernel.ratio)
        torch.testing.assert_close(embedding(latents), k1(pooled), atol=1e-5, rtol=1e-4, msg=key)


def test_replicate_padding_fills_partial_kernels():
    latents = torch.arange(3 * 5 * 6, dtype=torch.float32).view(1, 1, 3, 5, 6)
    padded = pad_to_kernel(latents, Kernel.from_level(2))
    assert padded.shape == (1, 1, 4, 8, 8)
    assert torch.equal(padded[0, 0, 3], padded[0, 0, 2])  # last frame repeated
    assert torch.equal(padded[0, 0, :, 7], padded[0, 0, :, 4])  # last row repeated
    assert torch.equal(padded[0, 0, :, :, 7], padded[0, 0, :, :, 5])  # last column repeated
    assert torch.equal(padded[:, :, :3, :5, :6], latents)


def test_token_order_is_coarsest_first_then_k1_then_noisy():
    model = tiny_model()
    batch = 1

    def group(kernel, t, start, tail_mode=None):
        frames = kernel.t if tail_mode is None else 2
        return PackedGroup(
            torch.randn(batch, CHANNELS, frames, 8, 8),
            torch.arange(start, start + frames),
            kernel,
            timesteps=torch.full((batch, frames), t),
            tail_mode=tail_mode,
        )

    context = [
        group(K1, 0.1, 30),
        group(Kernel.from_level(2), 0.2, 20),
        group(Kernel.from_level(4), 0.4, 10),
        group(Kernel.from_level(4), 0.5, 0, tail_mode="tc"),
    ]
    noisy = torch.randn(batch, CHANNELS, 2, 8, 8)
    sequence, num_context = model.pack(noisy, torch.tensor([31, 32]), torch.full((batch, 2), 0.9), context)
    per_token_t = sequence.slot_timesteps[0, sequence.slots]
    expected = [0.5] * 1 + [0.4] * 1 + [0.2] * 4 + [0.1] * 16 + [0.9] * 32
    torch.testing.assert_close(per_token_t, torch.tensor(expected))
    assert num_context == 22


def test_unknown_kernel_is_rejected_with_its_name():
    model = tiny_model(kernels=("k1", "k2"))
    group = PackedGroup(torch.randn(1, CHANNELS, 4, 8, 8), torch.arange(4), Kernel.from_level(4))
    with pytest.raises(ValueError, match="k4 has no patch embedding"):
        model.pack(torch.randn(1, CHANNELS, 1, 8, 8), torch.tensor([4]), torch.zeros(1, 1), [group])
