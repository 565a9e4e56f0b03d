import pytest
import torch

from framepack.discrete_history import Codebook


def latents(seed=0, shape=(2, 4, 3, 6, 6)):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_k1_replaces_every_latent_pixel_by_the_global_mean():
    x = latents()
    book = Codebook.fit(x, k=1, seed=0)
    mean = x.permute(0, 2, 3, 4, 1).reshape(-1, 4).mean(dim=0)
    quantized = book.quantize(x)
    assert quantized.shape == x.shape
    expected = mean.view(1, 4, 1, 1, 1).expand_as(x)
    torch.testing.assert_close(quantized, expected, rtol=0, atol=1e-5)


def test_codebook_at_least_as_large_as_the_distinct_vectors_is_lossless():
    palette = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    choice = torch.randint(5, (2, 3, 6, 6), generator=torch.Generator().manual_seed(2))
    x = palette[choice].permute(0, 4, 1, 2, 3).contiguous()  # (B, C, F, H, W) with 5 distinct pixels
    for k in (5, 8):
        book = Codebook.fit(x, k=k, seed=3)
        assert book.size == k
        assert torch.equal(book.quantize(x), x)


def test_fit_is_deterministic_under_a_seed_and_depends_on_it():
    x = latents(4)
    a = Codebook.fit(x, k=6, seed=7).codewords
    b = Codebook.fit(x, k=6, seed=7).codewords
    c = Codebook.fit(x, k=6, seed=8).codewords
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_quantize_picks_the_nearest_codeword_and_more_codewords_lower_the_error():
    x = latents(5)
    errors = []
    for k in (1, 4, 16):
        book = Codebook.fit(x, k=k, seed=0)
        quantized = book.quantize(x)
        pixels = x.permute(0, 2, 3, 4, 1).reshape(-1, 4)
        brute = torch.cdist(pixels.double(), book.codewords.double()).argmin(dim=1)
        assert torch.equal(book.assign(x).reshape(-1), brute)
        errors.append(float(((quantized - x) ** 2).mean()))
    assert errors[0] > errors[1] > errors[2]


def test_kmeans_recovers_well_separated_clusters():
    centres = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    noise = 0.1 * torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    points = centres.repeat(100, 1) + noise
    found = Codebook.fit(points, k=3, seed=1).codewords
    for centre in centres:
        assert float((found - centre).norm(dim=1).min()) < 0.1


def test_save_and_load_round_trip(tmp_path):
    book = Codebook.fit(latents(), k=3, seed=0)
    book.save(tmp_path / "sub" / "codebook.safetensors")
    assert torch.equal(Codebook.load(tmp_path / "sub" / "codebook.safetensors").codewords, book.codewords)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["codebook.safetensors"]


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="codebook"):
        Codebook.load(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="k must"):
        Codebook.fit(latents(), k=0)
    book = Codebook.fit(latents(), k=2)
    with pytest.raises(ValueError, match="C=4"):
        book.quantize(torch.zeros(1, 3, 1, 2, 2))


def test_all_zero_frames_stay_zero_and_real_frames_are_quantized():
    codebook = Codebook(torch.tensor([[2.0, 2.0], [-2.0, -2.0]]))
    latents = torch.zeros(1, 2, 3, 2, 2)
    latents[0, :, 1] = 0.5  # a real frame
    latents[0, 0, 2, 0, 0] = -0.1  # a real frame that is almost zero: still a frame
    quantized = codebook.quantize(latents)
    assert float(quantized[:, :, 0].abs().max()) == 0.0  # missing: not the codeword nearest zero
    assert torch.equal(quantized[0, :, 1], torch.full((2, 2, 2), 2.0))
    assert float(quantized[:, :, 2].abs().min()) == 2.0
