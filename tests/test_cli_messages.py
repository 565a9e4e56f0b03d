"""Every CLI message a way forward: help on every option, user errors named without a traceback,
outputs that say where they went, tables and figures in one unit with plain row names."""

import argparse
import io
import os

import numpy as np
import pandas as pd
import pytest

from bench.cli import build_parser, main


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("fpbench",)):
    """(command path, parser) for the parser and every subcommand below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


def test_every_option_and_subcommand_has_help_text():
    missing = []
    for path, parser in walk(build_parser()):
        if len(path) > 1 and not (parser.description or "").strip():
            missing.append(f"{' '.join(path)}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}: no help")
    assert not missing, "\n".join(missing)


def test_help_texts_point_only_to_docs_pages_that_exist():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path, parser in walk(build_parser()):
        text = parser.format_help()
        for word in text.replace(",", " ").replace(")", " ").replace(";", " ").split():
            word = word.rstrip(".:")
            if word.startswith("docs/") and word.endswith(".md"):
                assert (root / word).is_file(), f"{' '.join(path)} --help names {word}, which does not exist"
        assert "README" not in text, f"{' '.join(path)} --help points into the README, which has no such section"


def test_generate_help_shows_the_checkpoint_as_required_for_the_lab_backend():
    generate = dict(walk(build_parser()))[("fpbench", "generate")]
    usage = generate.format_usage()
    assert "--checkpoint CKPT (--image" in usage and "[--checkpoint" not in usage


def test_a_mistyped_checkpoint_is_named_as_missing_with_the_close_match(lab_checkpoint, tmp_path, capsys):
    typo = lab_checkpoint.with_name("fp_invertd.safetensors")
    code = main(["generate", "--checkpoint", str(typo), "--test-item", "0", "--out", str(tmp_path / "v.mp4")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no such checkpoint file" in err and "did you mean" in err and str(lab_checkpoint) in err
    assert "sidecar" not in err and "Traceback" not in err


def test_a_file_that_is_not_safetensors_is_a_clear_error_without_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FPBENCH_DEBUG", raising=False)
    video = tmp_path / "notavideo.mp4"
    video.write_bytes(os.urandom(256))
    code = main(["generate", "--checkpoint", str(video), "--schedule", "td_f1k1_g2", "--prompt", "a red circle",
                 "--out", str(tmp_path / "v.mp4")])
    err = capsys.readouterr().err
    assert code == 2
    assert "is not a safetensors checkpoint" in err and "notavideo.mp4" in err and "Traceback" not in err


def test_fpbench_debug_keeps_the_traceback_of_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FPBENCH_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        main(["generate", "--checkpoint", str(tmp_path / "none.safetensors"), "--prompt", "x",
              "--out", str(tmp_path / "v.mp4")])


@pytest.mark.parametrize("command", [["generate", "--test-item", "0", "--out", "v.mp4"], ["world", "--out", "c.mp4"],
                                     ["rate", "votes.jsonl"], ["votes", "simulate", "studies/x"]])
def test_a_negative_seed_is_rejected_before_any_work(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--seed", "-1"])
    assert exit_.value.code == 2
    assert "argument --seed: a seed must be a non-negative integer, got -1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_generate_video_checks_its_seed_at_the_boundary(lab_checkpoint, tmp_path):
    from bench.generate import generate_video

    with pytest.raises(ValueError, match="--seed must be a non-negative integer, got -1"):
        generate_video(str(lab_checkpoint), str(tmp_path / "v.mp4"), test_item=0, seed=-1)
    assert not (tmp_path / "v.mp4").exists()


def test_generate_says_where_it_wrote_and_leaves_a_prompt_sidecar_for_metrics(lab_checkpoint, tmp_path, capsys):
    from bench.world import test_split
    from metrics.evaluate import prompt_for

    out = tmp_path / "video.mp4"
    assert main(["generate", "--checkpoint", str(lab_checkpoint), "--test-item", "2", "--sections", "1",
                 "--steps", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} (3 frames at 16 fps)")  # no leftover progress line before it
    assert str(out.with_suffix(".txt")) in printed
    assert prompt_for(str(out)) == test_split("i2v")[2].prompt


def test_generate_progress_bars_are_erased_when_the_video_is_written(lab_checkpoint, tmp_path):
    from rich.console import Console

    from bench.generate import generate_video

    screen = io.StringIO()
    generate_video(str(lab_checkpoint), str(tmp_path / "v.mp4"), test_item=0, sections=1, steps=2,
                   console=Console(file=screen, force_terminal=True, width=100))
    text = screen.getvalue()
    last_bar = text.rfind("steps")
    assert last_bar >= 0  # the bars were drawn on the terminal ...
    assert "\x1b[2K" in text[last_bar:]  # ... and erased afterwards, leaving no stale "section 0 steps" line


def test_metrics_names_a_missing_prompt_once_and_says_how_to_give_one(tmp_path, capsys):
    from metrics.video_reader import write_video

    video = tmp_path / "video.mp4"
    write_video(video, np.zeros((4, 64, 64, 3), np.uint8))
    assert main(["metrics", str(video), "--metrics", "semantic", "--backend", "lab"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "semantic[lab]: the prompt names no lab colour or shape" in out
    assert "semantic[lab]: semantic[lab]" not in out
    assert "--prompts FILE" in out and "VIDEO.txt" in out


def test_metrics_prints_fractions_in_percent_like_the_grid_tables(tmp_path, capsys):
    from metrics.video_reader import write_video

    rng = np.random.default_rng(0)
    base = (rng.random((16, 16, 3)) * 255).astype(np.uint8)
    moving = np.stack([np.roll(np.kron(base, np.ones((4, 4, 1), np.uint8)), 2 * t, axis=1) for t in range(8)])
    write_video(tmp_path / "pan.mp4", moving)
    assert main(["metrics", str(tmp_path / "pan.mp4"), "--metrics", "dynamic,motion", "--backend", "classical",
                 "--drift"]) == 0
    out = capsys.readouterr().out
    assert "dynamic %" in out and "100.0" in out and "1.0000" not in out
    assert "motion % [classical]" in out  # drift of a fraction in percent too; flow magnitudes stay in px
    assert "dynamic [classical]" in out and "dynamic % [classical]" not in out


def test_an_unknown_metric_in_names_is_reported_as_unknown_with_the_known_ones(capsys):
    code = main(["status", "grids/demo.yaml", "--set", "metrics.names=[clarty]"])
    err = capsys.readouterr().err
    assert code == 2
    assert "metrics.names[0]: unknown metric 'clarty'" in err and "did you mean 'clarity'" in err
    assert "known metrics:" in err and "anatomy" in err and "metrics.drift" not in err


def test_schedule_says_why_tokens_may_exceed_the_closed_form_bound(capsys):
    assert main(["schedule", "f1k1_x_g9_f1k1f2k2f16k4_td"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "184 tokens exceed the bound by 5%" in out and "2 frames at full detail" in out
    assert main(["schedule", "td_f16k4f4k2f1k1_g9", "--latent", "16", "16"]) == 0
    assert "exceed the bound" not in capsys.readouterr().out


def test_table_rows_get_a_plain_name_beside_the_notation():
    from bench.row_labels import row_label

    assert row_label("f1k1_x_g9_f1k1f2k2f16k4_td") == "inverted anti-drifting — f1k1_x_g9_f1k1f2k2f16k4_td"
    assert row_label("td_f16k4f4k2f1k1_g9") == "vanilla — td_f16k4f4k2f1k1_g9"
    assert row_label("td_f16k4f4k2f1k1_g9+D", ("`", "`")) == "vanilla + discrete history — `td_f16k4f4k2f1k1_g9+D`"
    assert row_label("td_f16k4f4k2f1k1_g9_x_f1k1").startswith("anti-drifting — ")
    assert row_label("td_f16k4f4k2f1k1_g9 (anti_drifting)").startswith("vanilla, sampled anti-drifting — ")
    assert row_label("f1k1_x_g4_f1k1f2k2f16k4_tc").startswith("inverted anti-drifting, 4 frames a section, tail pooled")
    assert row_label("noisy_history (sigma_test=0.1)") == "noisy history — noisy_history (sigma_test=0.1)"
    assert row_label("my own row") == "my own row"


def summary_of(rows: list[str]) -> pd.DataFrame:
    records = []
    for i, row in enumerate(rows):
        for column, kind in (("Clarity ↑", "global"), ("Δ Clarity ↓", "drift")):
            records.append({"length": "long", "row": row, "column": column, "metric": "clarity", "kind": kind,
                            "direction": "higher", "mean": 50.0 + i, "ci_low": 45.0 + i, "ci_high": 55.0 + i,
                            "n": 6, "best": i == 0, "simulated": False})
        records.append({"length": "long", "row": row, "column": "Reference distance end (set) ↓",
                        "metric": "reference_distance", "kind": "set", "direction": "lower", "mean": 0.125 + i,
                        "ci_low": float("nan"), "ci_high": float("nan"), "n": 6, "best": False, "simulated": False})
    return pd.DataFrame(records)


def test_markdown_and_latex_tables_show_plain_names_and_the_terminal_table_is_drawn(capsys):
    from rich.console import Console

    from bench.cli._table_output import print_tables
    from bench.tables import render

    summary = summary_of(["f1k1_x_g9_f1k1f2k2f16k4_td", "td_f16k4f4k2f1k1_g9"])
    markdown = render(summary, "md", "demo")
    assert "| inverted anti-drifting — `f1k1_x_g9_f1k1f2k2f16k4_td` |" in markdown
    latex = render(summary, "latex", "demo")
    assert r"inverted anti-drifting -- \texttt{f1k1\_x\_g9\_f1k1f2k2f16k4\_td}" in latex
    screen = io.StringIO()
    print_tables(Console(file=screen, width=120), summary, "demo")
    text = screen.getvalue()
    assert "inverted anti-drifting" in text and "50.0 ± 5.0" in text and "**" not in text and "`" not in text
    assert "1.12" in text  # a set-level value (one number per row) is shown with the scores


def test_saved_figures_are_readable_like_every_other_result_file(tmp_path):
    from matplotlib.figure import Figure

    from bench.atomic_files import FILE_MODE
    from bench.figures.style import save_figure

    figure = Figure()
    figure.subplots().plot([0, 1])
    for path in save_figure(figure, tmp_path / "plot"):
        assert path.stat().st_mode & 0o777 == FILE_MODE
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def window_values(metric: str, values: np.ndarray, row: str) -> pd.DataFrame:
    return pd.DataFrame({"video": f"{row}-video", "row": row, "prompt": "p", "seed": 0, "length": "long",
                         "metric": metric, "backend": "lab", "version": "1", "kind": "frame",
                         "index": np.arange(len(values)), "value": values, "error": ""})


def test_identity_curves_are_in_percent_and_percent_axes_stop_at_100():
    from bench.figures.drift_curves import draw_drift_curves

    rng = np.random.default_rng(0)
    frames = []
    for row in ["f1k1_x_g9_f1k1f2k2f16k4_td", "td_f16k4f4k2f1k1_g9"]:
        for video in range(3):
            cosine = np.linspace(1.0, -0.5, 40) + rng.normal(0, 0.05, 40)  # identity: a cosine, may be < 0
            intact = np.clip(0.97 + rng.normal(0, 0.05, 40), 0, 1)  # anatomy near 1: its band reaches past 1
            frames += [window_values("identity", np.clip(cosine, -1, 1), row).assign(video=f"{row}-{video}"),
                       window_values("anatomy", intact, row).assign(video=f"{row}-{video}")]
    values = pd.concat(frames, ignore_index=True)
    figure = draw_drift_curves(values, ["f1k1_x_g9_f1k1f2k2f16k4_td", "td_f16k4f4k2f1k1_g9"],
                               ["identity", "anatomy"], "long")
    identity, anatomy = figure.axes[0], figure.axes[1]
    assert identity.get_title() == "identity (%)" and anatomy.get_title() == "anatomy (%)"
    assert identity.lines[0].get_ydata().max() > 50  # percent, not a raw cosine
    assert anatomy.get_ylim()[1] <= 101
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels[0].startswith("inverted anti-drifting — f1k1_x_g9_f1k1f2k2f16k4_td")


def test_the_long_table_figure_stays_readable_at_page_width():
    from bench.figures.style import DPI
    from bench.figures.table_figure import draw_table

    records = []
    for row in ("f1k1_x_g9_f1k1f2k2f16k4_td", "td_f16k4f4k2f1k1_g9", "td_f16k4f4k2f1k1_g9+D"):
        for i in range(12):  # 12 metrics, their drift and a rating: 25 columns
            for kind, column in (("global", f"Metric {i} ↑"), ("drift", f"Δ Metric {i} ↓")):
                records.append({"length": "long", "row": row, "column": column, "metric": f"m{i}", "kind": kind,
                                "direction": "higher", "mean": 52.35, "ci_low": 41.39, "ci_high": 63.31, "n": 6,
                                "best": False, "simulated": True})
        records.append({"length": "long", "row": row, "column": "ELO-K32 (simulated) ↑", "metric": "elo",
                        "kind": "rating", "direction": "higher", "mean": 1026.0, "ci_low": float("nan"),
                        "ci_high": float("nan"), "n": 1, "best": False, "simulated": True})
    figure = draw_table(pd.DataFrame(records), "long", "demo")
    assert figure.get_figwidth() * DPI <= 1800  # blocks of columns stacked, not one long line
    fonts = [text.get_fontsize() for axis in figure.axes for table in axis.tables for text in
             [cell.get_text() for cell in table.get_celld().values()]]
    assert min(fonts) >= 8


def test_a_narrow_terminal_gets_more_tables_never_cut_off_numbers():
    from rich.console import Console

    from bench.cli._table_output import print_tables

    summary = pd.read_parquet("results/demo/summary.parquet")
    screen = io.StringIO()
    print_tables(Console(file=screen, width=80), summary, "demo")
    text = screen.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    for _, record in summary[summary["kind"].isin(["global", "drift"]) & summary["ci_low"].notna()].iterrows():
        assert f"{record['mean']:.1f} ± {(record['ci_high'] - record['ci_low']) / 2:.1f}" in text
