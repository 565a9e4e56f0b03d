"""`fpbench metrics` and `fpbench weights`: folders of mp4s, prompts, parquet out, cache, bad videos, --list."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from bench.cli import metrics as metrics_cli
from bench.cli import weights as weights_cli
from metrics.video_reader import write_video


def run(argv):
    parser = argparse.ArgumentParser(prog="fpbench")
    subparsers = parser.add_subparsers(dest="command")
    metrics_cli.add_parser(subparsers)
    weights_cli.add_parser(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    base = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    moving = np.stack([np.roll(np.kron(base, np.ones((4, 4, 1), np.uint8)), 2 * t, axis=1) for t in range(8)])
    write_video(folder / "pan.mp4", moving)
    write_video(folder / "still.mp4", np.repeat(moving[:1], 8, axis=0))
    (folder / "still.txt").write_text("a red circle stays still")
    (folder / "broken.mp4").write_bytes(b"\x00" * 64)
    return folder


def test_metrics_command_measures_a_folder_and_reports_bad_videos(videos, tmp_path, capsys):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"pan.mp4": "a pattern pans left"}))
    out = tmp_path / "scores.parquet"
    status = run(["metrics", str(videos), "--metrics", "motion,dynamic", "--backend", "classical",
                  "--prompts", str(prompts), "--out", str(out), "--drift"])
    printed = capsys.readouterr().out
    assert status == 1  # one bad video
    assert "broken.mp4" in printed and "bad video" in printed and "Δ = |M(first 15 %)" in printed and "VDE linear" in printed
    table = pd.read_parquet(out)
    scores = table[table.kind == "video"].assign(name=lambda t: t.video.str.rsplit("/", n=1).str[-1])
    dynamic = scores[scores.metric == "dynamic"].set_index("name")["value"]
    assert dynamic["pan.mp4"] == 1.0 and dynamic["still.mp4"] == 0.0
    errors = table[table.kind == "error"]
    assert set(errors.metric) == {"motion", "dynamic"} and errors.video.str.endswith("broken.mp4").all()


def test_metrics_command_cache_skips_unchanged_videos(videos, tmp_path):
    cache = tmp_path / "cache"
    good = [str(videos / "pan.mp4"), str(videos / "still.mp4")]
    assert run(["metrics", *good, "--metrics", "dynamic", "--backend", "classical", "--cache", str(cache)]) == 0
    entries = sorted(cache.rglob("*.json"))
    assert len(entries) == 2
    stamps = [p.stat().st_mtime_ns for p in entries]
    assert run(["metrics", *good, "--metrics", "dynamic", "--backend", "classical", "--cache", str(cache)]) == 0
    assert [p.stat().st_mtime_ns for p in entries] == stamps


def test_prompts_from_csv_and_bad_prompt_files(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("video,prompt\na.mp4,a red circle\n")
    assert metrics_cli.load_prompts(str(csv)) == {"a.mp4": "a red circle"}
    bad = tmp_path / "p.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        metrics_cli.load_prompts(str(bad))
    with pytest.raises(FileNotFoundError, match="no such file"):
        metrics_cli.load_prompts(str(tmp_path / "missing.json"))


def test_metrics_list_shows_every_backend_and_availability(capsys):
    assert run(["metrics", "--list"]) == 0
    printed = capsys.readouterr().out
    for name in ("clarity", "aesthetic", "motion", "dynamic", "semantic", "anatomy", "identity"):
        assert name in printed
    assert "classical" in printed and "paper" in printed and "lab" in printed


def test_weights_command_lists_files_present_or_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "musiq_spaq_ckpt-358bb6af.pth").write_bytes(b"x")
    assert run(["weights", "--dir", str(folder), "--json"]) == 0
    rows = {row["key"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["musiq_spaq"]["present"] and not rows["raft_large"]["present"]
    assert rows["raft_large"]["expected"] == str(tmp_path / "torch" / "hub" / "checkpoints" /
                                                 "raft_large_C_T_V2-1bb1363a.pth")
    assert run(["weights"]) == 0
    assert "missing" in capsys.readouterr().out


def test_metrics_command_prints_file_names_as_text_not_markup(videos, capsys):
    odd = videos / "good[b]0.mp4"
    (videos / "pan.mp4").rename(odd)
    assert run(["metrics", str(odd), "--metrics", "dynamic", "--backend", "classical"]) == 0
    assert "good[b]0.mp4" in capsys.readouterr().out


def test_metrics_drift_prints_start_end_contrast_and_vde_of_the_colour_curves(tmp_path, capsys):
    from bench.world import test_split
    from bench.world.drift_effects import darken

    clip = darken(test_split("i2v")[0].reference_clip(24).frames, 0.5)
    write_video(tmp_path / "dark.mp4", clip)
    status = run(["metrics", str(tmp_path / "dark.mp4"), "--metrics", "colour_lightness", "--backend", "classical",
                  "--drift", "--vde-chunks", "4"])
    printed = capsys.readouterr().out
    words = " ".join(printed.split())  # the table's title may wrap on a narrow terminal
    assert status == 0 and "Δ = |M(first 15 %) − M(last 15 %)|" in words and "VDE over 4 chunks" in words
    row = next(line for line in printed.splitlines() if "colour_lightness" in line and "dark.mp4" in line)
    delta, vde_linear, vde_log = (float(cell) for cell in [c.strip() for c in row.split("│") if c.strip()][-3:])
    assert delta > 10 and 0.1 < vde_log < vde_linear < 0.5  # darkening halves L* by the end; late chunks weigh more
