"""The run store: atomic writes, status written last, resume, failures, rescoring, provenance;
a stored value names how it was made and a damaged store is detected (checksums in the status,
unreadable statuses, metric measurements, exact frames for rescoring)."""

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
from bench.votes.grid_videos import grid_video_records

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))
STORED_FILES = ("config.yaml", "video.mp4", "frames.npz", "metrics.parquet", "provenance.json")


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


# --------------------------------------------------------------------------- integrity


def run(grid):
    return run_grid(grid, executor=make_executor("local"), progress=False)


def starts(tmp_path: Path) -> int:
    return len(log_lines(tmp_path, "start"))


def scores(grid) -> pd.DataFrame:
    return collect_results(grid, RunStore(grid.spec.store)).scores.sort_values(["key", "metric"]).reset_index(drop=True)


def finished(tmp_path: Path):
    """A finished grid, its store and its table's scores."""
    grid = make_grid(tmp_path)
    run(grid)
    return grid, RunStore(grid.spec.store), scores(grid)


def test_a_done_status_lists_every_stored_file_with_its_sha256(tmp_path):
    import hashlib

    grid = make_grid(tmp_path)
    run(grid)
    folder = RunStore(grid.spec.store).run_dir(grid.runs[0].key)
    files = json.loads((folder / "status.json").read_text())["files"]
    assert set(files) == set(STORED_FILES)
    for name, digest in files.items():
        assert digest == hashlib.sha256((folder / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("name", STORED_FILES)
def test_a_flipped_byte_in_any_stored_file_makes_the_run_pending_and_it_is_redone(tmp_path, name):
    grid, store, clean = finished(tmp_path)
    key = grid.runs[0].key
    path = store.path(key, name)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert store.status(key).state == "pending"
    assert "checksum" in store.status(key).info["damaged"]
    assert key not in set(scores(grid)["key"])  # never read while damaged
    summary = run(grid)
    assert summary.counts == {"generated": 1, "already done": 3}
    pd.testing.assert_frame_equal(scores(grid), clean)


@pytest.mark.parametrize(("name", "damage"), [
    ("metrics.parquet", "truncate"), ("metrics.parquet", "empty"), ("metrics.parquet", "delete"),
    ("video.mp4", "truncate"), ("video.mp4", "delete"), ("frames.npz", "delete"),
])
def test_a_truncated_empty_or_deleted_file_makes_its_run_pending_and_the_grid_goes_on(tmp_path, name, damage):
    grid, store, clean = finished(tmp_path)
    key = grid.runs[1].key
    path = store.path(key, name)
    if damage == "delete":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[: 0 if damage == "empty" else path.stat().st_size // 2])
    assert store.status(key).state == "pending"
    assert name in store.statuses([key])["error"].item()
    assert key not in {record.video.split("/")[-2] for record in grid_video_records(grid, store)}
    assert run(grid).counts == {"generated": 1, "already done": 3}
    pd.testing.assert_frame_equal(scores(grid), clean)


@pytest.mark.parametrize("content", [b'{"state": "done"\xff}', b"\xff\xfe", b"[]", b'"done"', b'{"state": 5}',
                                     b'{"state": "done"}'])
def test_an_unreadable_or_unchecked_status_counts_as_pending(tmp_path, content):
    grid = make_grid(tmp_path)
    run(grid)
    store = RunStore(grid.spec.store)
    key = grid.runs[0].key
    store.path(key, "status.json").write_bytes(content)
    assert store.status(key).state == "pending"
    assert len(scores(grid)) == 3  # the table reads the other runs and skips this one
    assert run(grid).counts == {"generated": 1, "already done": 3}


def test_without_the_exact_frames_a_new_metric_regenerates_the_run_instead_of_reading_the_mp4(tmp_path):
    grid = make_grid(tmp_path)
    run(grid)
    store = RunStore(grid.spec.store)
    key = grid.runs[0].key
    exact = store.read_exact_frames(key)
    store.path(key, "frames.npz").unlink()
    status = json.loads(store.path(key, "status.json").read_text())
    del status["files"]["frames.npz"]  # a run that never kept its frames (keep_frames: false)
    store.path(key, "status.json").write_text(json.dumps(status))
    assert store.status(key).done
    before = starts(tmp_path)
    bigger = make_grid(tmp_path, ["metrics.names=[brightness, flicker]"])
    summary = run(bigger)
    assert sorted(o.action for o in summary.outcomes) == ["generated", "rescored", "rescored", "rescored"]
    assert starts(tmp_path) == before + 1
    values = store.read_metrics(key)
    flicker = values[(values["metric"] == "flicker") & (values["kind"] == "pair")]["value"].to_numpy()
    expected = np.abs(np.diff(exact.astype(np.float64), axis=0)).mean(axis=(1, 2, 3)) / 255.0
    np.testing.assert_allclose(flicker, expected)  # measured on the exact frames, not a decoded mp4


def test_keeping_no_frames_regenerates_for_a_new_metric(tmp_path):
    grid = make_grid(tmp_path, keep_frames=False)
    run(grid)
    before = starts(tmp_path)
    summary = run(make_grid(tmp_path, ["metrics.names=[brightness, flicker]"], keep_frames=False))
    assert summary.counts == {"generated": 4, "already done": 0}
    assert starts(tmp_path) == before + 4


def test_changing_the_metric_backend_rescores_and_the_table_never_mixes_backends(tmp_path):
    rows = [{"generator": "fake_video", "params": {"drift": d, "size": 64}} for d in (2.0, 6.0)]
    lab = make_grid(tmp_path, rows=rows, metrics={"names": ["clarity"], "backend": "lab,classical"})
    if lab.unavailable_metrics:
        pytest.skip(f"lab clarity cannot run here: {lab.unavailable_metrics}")
    run(lab)
    lab_scores = scores(lab)
    classical = make_grid(tmp_path, rows=rows, metrics={"names": ["clarity"], "backend": "classical,lab"})
    assert [r.key for r in classical.runs] == [r.key for r in lab.runs]  # same videos
    assert classical.runs[0].measurements["clarity"]["backend"] == "classical"
    summary = run(classical)
    assert summary.counts == {"rescored": 4, "already done": 0}
    store = RunStore(classical.spec.store)
    values = store.read_metrics(classical.runs[0].key)
    assert set(values["backend"]) == {"classical"}
    results = collect_results(classical, store)
    assert results.directions == {"clarity": "lower"}  # NIQE: lower is better
    assert not np.allclose(results.scores.sort_values("key")["score"], lab_scores["score"])
    # The lab grid now finds values made by another backend: it reports them, it does not show them.
    stale = collect_results(lab, store)
    assert stale.scores.empty
    assert stale.missing["clarity"]["runs"] == 4 and "rescores" in stale.missing["clarity"]["reason"]
    assert run(lab).counts == {"rescored": 4, "already done": 0}
    pd.testing.assert_frame_equal(scores(lab), lab_scores)


def test_a_metric_version_change_rescores_from_the_exact_frames(tmp_path, monkeypatch):
    from bench.grid.registry import metric_provider

    grid = make_grid(tmp_path)
    run(grid)
    before = starts(tmp_path)
    monkeypatch.setattr(type(metric_provider("fake")), "VERSION", "2")
    bumped = make_grid(tmp_path)
    assert [r.key for r in bumped.runs] == [r.key for r in grid.runs]
    assert run(bumped).counts == {"rescored": 4, "already done": 0}
    assert starts(tmp_path) == before
    values = RunStore(grid.spec.store).read_metrics(grid.runs[0].key)
    assert set(values["version"]) == {"2"} and (values["metric"] == "brightness").sum() == 10


def test_status_names_a_damaged_run_and_prints_row_names_as_text(tmp_path, capsys):
    import bench.cli

    rows = [{"generator": "fake_video", "name": "[bold]plain[/bold] row", "params": {"log": str(tmp_path / "log.txt")}}]
    grid = make_grid(tmp_path, rows=rows)
    run(grid)
    RunStore(grid.spec.store).path(grid.runs[0].key, "metrics.parquet").write_bytes(b"")
    capsys.readouterr()
    assert bench.cli.main(["status", str(tmp_path / "grid.yaml")]) == 0
    out = " ".join(capsys.readouterr().out.split())  # unwrap the console's line breaks
    assert "[bold]plain[/bold] row" in out
    assert "damaged" in out and "metrics.parquet does not match its checksum" in out


def test_a_file_changed_after_it_was_verified_is_caught_in_the_same_process(tmp_path):
    import time

    grid = make_grid(tmp_path)
    run(grid)
    store = RunStore(grid.spec.store)
    key = grid.runs[0].key
    time.sleep(1.1)  # settled files: their checksums are remembered in this process
    assert store.status(key).done
    path = store.path(key, "metrics.parquet")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime: only the content changed
    assert store.status(key).state == "pending"
