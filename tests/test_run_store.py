"""The run store: atomic writes, status written last, resume, failures, rescoring, provenance."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.atomic_files import atomic_write
from bench.executors import make_executor, run_grid
from bench.executors.run_task import RunTask, execute_run
from bench.grid import load_and_resolve
from bench.run_store import RunStore
from bench.tables import collect_results
from bench.video_io import read_video

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


def make_grid(tmp_path: Path, overrides=(), **changes):
    document = {
        "name": "store-test",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 2.0, "log": str(tmp_path / "log.txt")}},
                 {"generator": "fake_video", "params": {"drift": 6.0, "reverse": True, "log": str(tmp_path / "log.txt")}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 2},
        "seeds": [0],
        "lengths": {"long": 3},
        "metrics": {"names": ["brightness"], "backend": "fake", "provider": "fake"},
    }
    document.update(changes)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_and_resolve(path, overrides)


def log_lines(tmp_path: Path, word: str) -> list[str]:
    path = tmp_path / "log.txt"
    return [line.split(" ", 1)[1] for line in path.read_text().splitlines() if line.startswith(word)] if path.exists() else []


def test_atomic_write_keeps_old_content_when_the_writer_fails(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")

    def failing(stream):
        stream.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_a_finished_run_folder_holds_every_artifact_and_status_last(tmp_path):
    grid = make_grid(tmp_path)
    run_grid(grid, executor=make_executor("local"), progress=False)
    store = RunStore(grid.spec.store)
    run = grid.runs[1]
    folder = store.run_dir(run.key)
    names = {p.name for p in folder.iterdir()}
    assert {"config.yaml", "video.mp4", "frames.npz", "metrics.parquet", "provenance.json", "status.json"} <= names
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "done" and status["metrics"] == ["brightness"]
    latest_other = max((folder / n).stat().st_mtime_ns for n in names if n not in ("status.json", ".lock"))
    assert (folder / "status.json").stat().st_mtime_ns >= latest_other
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["key"] == run.key and config["seed"] == run.seed and config["length"]["sections"] == 3
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["seed"] == run.seed
    assert {"revision", "dirty"} <= set(provenance["git"])
    assert provenance["packages"]["numpy"] == np.__version__
    assert provenance["machine"]["cpu_count"] == os.cpu_count()
    frames = store.read_frames(run.key)
    assert frames.shape == (9, 16, 16, 3)
    decoded = read_video(folder / "video.mp4")
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 3  # H.264 at CRF 12
    values = store.read_metrics(run.key)
    video_score = values.loc[values["kind"] == "video", "value"].item()
    assert video_score == pytest.approx(frames.mean() / 255)
    assert set(values["video"]) == {run.key}


def test_rerunning_a_grid_skips_finished_runs(tmp_path):
    grid = make_grid(tmp_path)
    first = run_grid(grid, executor=make_executor("local"), progress=False)
    assert first.counts == {"generated": 4, "already done": 0}
    second = run_grid(grid, executor=make_executor("local"), progress=False)
    assert second.counts == {"already done": 4}
    assert len(log_lines(tmp_path, "start")) == 4


def test_an_unfinished_run_folder_is_wiped_and_redone(tmp_path):
    grid = make_grid(tmp_path)
    store = RunStore(grid.spec.store)
    run = grid.runs[0]
    folder = store.run_dir(run.key)
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"half a video")
    (folder / "metrics.parquet").write_bytes(b"garbage")
    (folder / "stray.tmp").write_bytes(b"x")
    assert store.status(run.key).state == "pending"
    outcome = execute_run(RunTask(run, str(store.root)))
    assert outcome.action == "generated"
    assert not (folder / "stray.tmp").exists()
    assert store.status(run.key).done
    assert len(store.read_metrics(run.key)) > 1


def test_a_corrupt_status_file_counts_as_pending(tmp_path):
    store = RunStore(tmp_path)
    store.run_dir("abc").mkdir(parents=True)
    (store.run_dir("abc") / "status.json").write_text("{not json")
    assert store.status("abc").state == "pending"


def test_a_failing_run_records_its_traceback_and_the_grid_goes_on(tmp_path):
    grid = make_grid(tmp_path)
    failing_prompt = grid.prompts[0].prompt
    grid = make_grid(tmp_path, [f"rows.0.params.fail_prompt={json.dumps(failing_prompt)}"])
    summary = run_grid(grid, executor=make_executor("local"), progress=False)
    assert summary.counts == {"generated": 3, "failed": 1, "already done": 0}
    store = RunStore(grid.spec.store)
    failed = summary.failed[0]
    status = store.status(failed.key)
    assert status.state == "failed" and "fake failure" in status.info["error"]
    traceback_text = (store.run_dir(failed.key) / "traceback.txt").read_text()
    assert "Traceback" in traceback_text and "RuntimeError: fake failure" in traceback_text
    # Fixed input: the failed run is retried (and now succeeds); the finished ones are not redone.
    fixed = make_grid(tmp_path)
    assert fixed.runs[0].key != failed.key  # fail_prompt is part of the row's identity
    retry = run_grid(grid, executor=make_executor("local"), progress=False)
    assert retry.counts == {"failed": 1, "already done": 3}


def test_asking_for_a_new_metric_rescores_stored_frames_without_regenerating(tmp_path):
    grid = make_grid(tmp_path)
    run_grid(grid, executor=make_executor("local"), progress=False)
    starts = len(log_lines(tmp_path, "start"))
    bigger = make_grid(tmp_path, ["metrics.names=[brightness, flicker]"])
    assert [r.key for r in bigger.runs] == [r.key for r in grid.runs]
    summary = run_grid(bigger, executor=make_executor("local"), progress=False)
    assert summary.counts == {"rescored": 4, "already done": 0}
    assert len(log_lines(tmp_path, "start")) == starts
    values = RunStore(grid.spec.store).read_metrics(grid.runs[0].key)
    assert set(values["metric"]) == {"brightness", "flicker"}
    assert (values["metric"] == "brightness").sum() == 10  # not duplicated: 9 frames + the video score


def test_a_metric_that_cannot_run_is_recorded_as_missing_not_zero(tmp_path):
    grid = make_grid(tmp_path, ["metrics.names=[brightness, needs_weights]"])
    assert grid.unavailable_metrics == {"needs_weights": "fake weights file missing"}
    run_grid(grid, executor=make_executor("local"), progress=False)
    store = RunStore(grid.spec.store)
    status = store.status(grid.runs[0].key)
    assert "fake weights file missing" in status.info["missing_metrics"]["needs_weights"]
    assert set(store.read_metrics(grid.runs[0].key)["metric"]) == {"brightness"}
    results = collect_results(grid, store)
    assert results.missing["needs_weights"]["runs"] == 4
    assert "needs_weights" not in set(results.scores["metric"])
    from bench.tables import render, summarise

    text = render(summarise(results, grid), "md", grid.name, results.missing)
    assert "needs_weights: not measured in 4 run(s) — needs_weights: fake weights file missing" in text


def test_store_index_is_derived_from_the_folders(tmp_path):
    grid = make_grid(tmp_path)
    store = RunStore(grid.spec.store)
    execute_run(RunTask(grid.runs[0], str(store.root)))
    index = store.statuses([r.key for r in grid.runs])
    assert list(index["state"]) == ["done", "pending", "pending", "pending"]
    assert store.keys() == [grid.runs[0].key]
    assert isinstance(index, pd.DataFrame)


def test_a_failed_rescore_leaves_the_finished_run_as_it_was(tmp_path):
    grid = make_grid(tmp_path)
    run_grid(grid, executor=make_executor("local"), progress=False)
    store = RunStore(grid.spec.store)
    key = grid.runs[0].key
    before = (store.run_dir(key) / "status.json").read_bytes(), store.read_metrics(key)
    exploding = make_grid(tmp_path, ["metrics.names=[brightness, explodes]"])
    summary = run_grid(exploding, executor=make_executor("local"), progress=False)
    assert {o.action for o in summary.outcomes} == {"failed"}
    assert "the fake metric exploded" in summary.outcomes[0].error
    assert (store.run_dir(key) / "status.json").read_bytes() == before[0]
    pd.testing.assert_frame_equal(store.read_metrics(key), before[1])
    assert store.status(key).done
