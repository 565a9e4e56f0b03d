"""`fpbench generate`: a checkpoint + sidecar in, an mp4 (and lossless frames) out."""


import numpy as np
import pytest

from bench.cli import main
from bench.video_io import read_video
from bench.world import test_split


def test_generate_from_a_test_item_writes_every_frame_in_time_order(tmp_path, lab_checkpoint):
    out, lossless = tmp_path / "v.mp4", tmp_path / "v.npz"
    code = main(["generate", "--checkpoint", str(lab_checkpoint), "--test-item", "3", "--sections", "3",
                 "--steps", "2", "--seed", "1", "--out", str(out), "--lossless", str(lossless)])
    assert code == 0
    frames = np.load(lossless)["frames"]
    assert frames.shape == (1 + 3 * 2, 64, 64, 3)  # the start frame + 3 sections of 2
    np.testing.assert_array_equal(frames[0], test_split("i2v")[3].start_frame)
    decoded = read_video(out)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 6  # H.264, visually lossless


def test_generate_from_an_image_file_and_same_seed_is_repeatable(tmp_path, lab_checkpoint):
    import cv2

    start = test_split("i2v")[0].start_frame
    cv2.imwrite(str(tmp_path / "start.png"), cv2.cvtColor(start, cv2.COLOR_RGB2BGR))
    runs = []
    for name in ("a", "b"):
        assert main(["generate", "--checkpoint", str(lab_checkpoint), "--image", str(tmp_path / "start.png"),
                     "--sections", "1", "--steps", "2", "--out", str(tmp_path / f"{name}.mp4"),
                     "--lossless", str(tmp_path / f"{name}.npz")]) == 0
        runs.append(np.load(tmp_path / f"{name}.npz")["frames"])
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0][0], start)


def test_missing_checkpoint_is_reported_without_traceback(tmp_path, capsys):
    code = main(["generate", "--checkpoint", str(tmp_path / "none.safetensors"), "--prompt", "a red circle",
                 "--schedule", "td_f1k1_g2", "--out", str(tmp_path / "v.mp4")])
    assert code == 2
    assert "none.safetensors" in capsys.readouterr().err


def test_checkpoint_without_sidecar_needs_a_schedule(tmp_path, lab_checkpoint, capsys):
    bare = tmp_path / "bare.safetensors"
    bare.write_bytes(lab_checkpoint.read_bytes())
    assert main(["generate", "--checkpoint", str(bare), "--prompt", "x", "--out", str(tmp_path / "v.mp4")]) == 2
    assert "--schedule" in capsys.readouterr().err


def test_sampler_settings_reach_the_generator_and_default_to_euler_with_shift_12(tmp_path, lab_checkpoint):
    from bench.generate import build_generator

    default = build_generator(lab_checkpoint)
    assert (default.steps, default.solver, default.shift) == (25, "euler", 12.0)
    chosen = build_generator(lab_checkpoint, steps=4, solver="dpmpp_2m", shift=3.0)
    assert (chosen.steps, chosen.solver, chosen.shift) == (4, "dpmpp_2m", 3.0)
    with pytest.raises(SystemExit):
        main(["generate", "--checkpoint", str(lab_checkpoint), "--prompt", "x", "--solver", "heun",
              "--out", str(tmp_path / "v.mp4")])
