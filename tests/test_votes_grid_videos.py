"""Study input from a grid's run store: only finished runs with a video become records."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from bench.run_store import RunStore
from bench.votes.grid_videos import grid_video_records
from bench.votes.study import create_study_from_videos


def _run(key, row, prompt_id, seed, length="short"):
    return SimpleNamespace(key=key, row_name=row, seed=seed, length=SimpleNamespace(name=length),
                           prompt=SimpleNamespace(id=prompt_id, prompt=f"text of {prompt_id}"))


def test_finished_runs_of_ranked_rows_become_video_records_and_a_study(tmp_path):
    store = RunStore(tmp_path / "runs")
    runs = [_run(f"k{r}{p}", row, f"p{p}", 0) for r, row in enumerate(["vanilla", "inverted", "real"]) for p in range(2)]
    runs.append(_run("pending", "vanilla", "p9", 0))
    runs.append(_run("failed", "inverted", "p9", 0))
    frames = np.zeros((4, 16, 16, 3), dtype=np.uint8)
    for run in runs[:6]:
        store.run_dir(run.key).mkdir(parents=True)
        store.write_config(run.key, {"key": run.key})
        store.write_video(run.key, frames + 40 * len(run.key), fps=8)
        store.write_metrics(run.key, pd.DataFrame({"metric": ["m"], "value": [0.5]}))
        store.mark_done(run.key, {})
    store.run_dir("failed").mkdir(parents=True)
    store.mark_failed("failed", "boom", "traceback")
    store.run_dir("pending").mkdir(parents=True)

    records = grid_video_records(SimpleNamespace(runs=tuple(runs), reference_row_names=["real"]), store)
    assert sorted((r.row, r.prompt_id) for r in records) == [
        ("inverted", "p0@short"), ("inverted", "p1@short"), ("vanilla", "p0@short"), ("vanilla", "p1@short")]
    assert all(r.prompt.startswith("text of p") for r in records)
    study = create_study_from_videos(records, "from-grid", per_row=2, seed=0)
    assert study.assessments_per_row() == {"vanilla": 2, "inverted": 2}


def test_create_study_command_reads_a_real_grid_run(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    import yaml

    import bench.cli
    from bench.executors import run_grid
    from bench.grid import load_and_resolve
    from bench.votes.study import load_study

    plugin = str(Path(__file__).with_name("fake_harness_plugin.py"))
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump({
        "name": "ab-grid",
        "plugins": [plugin],
        "store": str(tmp_path / "runs"),
        "rows": [{"name": "steady", "generator": "fake_video", "params": {"drift": 0.0}},
                 {"name": "drifting", "generator": "fake_video", "params": {"drift": 9.0}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 2},
        "seeds": [0],
        "lengths": {"short": 2},
        "metrics": {"names": ["brightness"], "backend": "fake", "provider": "fake"},
    }))
    run_grid(load_and_resolve(grid_file), progress=False)
    monkeypatch.setattr(bench.cli, "SUBCOMMAND_MODULES", ["votes"])
    out = tmp_path / "study"
    assert bench.cli.main(["votes", "create-study", str(grid_file), "--name", "g", "--per-row", "3",
                           "--out", str(out)]) == 0
    assert "steady=3, drifting=3" in capsys.readouterr().out
    study = load_study(out)
    assert set(study.rows) == {"steady", "drifting"}
    assert all(study.media_path(i.left_media).name == "video.mp4" for i in study.items if i.kind == "regular")
