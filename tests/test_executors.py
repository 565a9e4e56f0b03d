"""Executors: sequential, process pool and Ray give the same results; progress is reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.executors import (
    LocalPoolExecutor,
    RayExecutor,
    RunTask,
    SequentialExecutor,
    make_executor,
    pending_tasks,
    run_grid,
)
from bench.grid import load_and_resolve
from bench.run_store import RunStore

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))


def make_grid(tmp_path: Path, store: str, prompts: int = 2):
    document = {
        "name": "exec-test",
        "plugins": [PLUGIN],
        "store": str(tmp_path / store),
        "rows": [{"generator": "fake_video", "params": {"drift": 2.0}},
                 {"generator": "fake_video", "params": {"drift": 6.0, "reverse": True}}],
        "prompts": {"source": "lab", "split": "i2v", "count": prompts},
        "seeds": [0],
        "lengths": {"long": 3},
        "metrics": {"names": ["brightness", "flicker"], "backend": "fake", "provider": "fake"},
        "resources": {"num_cpus": 1},
    }
    path = tmp_path / f"{store}.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_and_resolve(path)


def stored_values(grid) -> pd.DataFrame:
    store = RunStore(grid.spec.store)
    frames = [store.read_metrics(run.key) for run in grid.runs]
    return pd.concat(frames, ignore_index=True).sort_values(["video", "metric", "kind", "index"]).reset_index(drop=True)


def test_make_executor_chooses_by_name_and_jobs():
    assert isinstance(make_executor("local"), SequentialExecutor)
    assert isinstance(make_executor("local", jobs=2), LocalPoolExecutor)
    assert isinstance(make_executor("process", jobs=3), LocalPoolExecutor)
    assert isinstance(make_executor("ray", address="auto"), RayExecutor)
    with pytest.raises(ValueError, match="'cluster'"):
        make_executor("cluster")
    with pytest.raises(ValueError, match="--jobs"):
        make_executor("local", jobs=0)
    with pytest.raises(ValueError, match="--address"):
        make_executor("local", address="ray://x:1")


def test_sequential_executor_reports_overall_and_per_run_progress(tmp_path):
    grid = make_grid(tmp_path, "seq")
    events = []
    finished = []
    tasks = [RunTask(r, grid.spec.store) for r in grid.runs]
    SequentialExecutor().run(tasks, on_progress=lambda *e: events.append(e), on_finished=finished.append)
    assert len(finished) == len(grid.runs)
    for run in grid.runs:
        kinds = [e[1] for e in events if e[0] == run.key]
        assert kinds[0] == "start" and kinds[-1] == "end"
        sections = [e for e in events if e[0] == run.key and e[1] == "section"]
        assert [s[2] for s in sections] == [1, 2, 3] and all(s[3] == 3 for s in sections)
        assert kinds.count("step") == 3 * 2 and kinds.count("metric") == 2


def test_process_pool_gives_the_same_results_as_sequential(tmp_path):
    sequential = make_grid(tmp_path, "seq")
    pooled = make_grid(tmp_path, "pool")
    run_grid(sequential, executor=make_executor("local"), progress=False)
    summary = run_grid(pooled, executor=make_executor("process", jobs=2), progress=False)
    assert summary.counts == {"generated": 4, "already done": 0}
    pd.testing.assert_frame_equal(stored_values(sequential), stored_values(pooled))


@pytest.mark.slow
def test_ray_executor_on_a_real_local_ray_instance(tmp_path):
    ray = pytest.importorskip("ray", reason="the `ray` extra is not installed")
    sequential = make_grid(tmp_path, "seq", prompts=1)
    on_ray = make_grid(tmp_path, "ray", prompts=1)
    run_grid(sequential, executor=make_executor("local"), progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        events = []
        executor = RayExecutor(num_cpus=1)
        tasks, _ = pending_tasks(on_ray, RunStore(on_ray.spec.store), "ray")
        outcomes = executor.run(tasks, on_progress=lambda *e: events.append(e))
        assert sorted(o.action for o in outcomes) == ["generated", "generated"]
        assert {e[0] for e in events if e[1] == "end"} == {r.key for r in on_ray.runs}
        again = run_grid(on_ray, executor=executor, progress=False)
        assert again.counts == {"already done": 2}
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(stored_values(sequential), stored_values(on_ray))
    provenance = (RunStore(on_ray.spec.store).run_dir(on_ray.runs[0].key) / "provenance.json").read_text()
    assert '"executor": "ray"' in provenance


def test_grid_progress_draws_bars_and_a_line_per_finished_run(tmp_path):
    import io

    from rich.console import Console

    grid = make_grid(tmp_path, "bars")
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, color_system=None, width=120)
    summary = run_grid(grid, executor=make_executor("local"), progress=True, console=console)
    text = stream.getvalue()
    assert summary.counts == {"generated": 4, "already done": 0}
    assert text.count("generated fake(drift=") == 4
    assert "runs" in text and "4/4" in text
    stream.truncate(0)
    again = run_grid(grid, executor=make_executor("local"), progress=True, console=console)
    assert again.counts == {"already done": 4} and "4 already done" in stream.getvalue()


def test_per_run_bars_count_sections_and_show_steps():
    import io

    from rich.console import Console

    from bench.executors.progress import GridProgress

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, color_system=None, width=120)
    with GridProgress({"k1": "row-a · p0 · seed 0 · long"}, console=console) as bars:
        bars.event("k1", "start", 0, 12)
        bars.event("k1", "section", 5, 12)
        bars.event("k1", "step", 3, 8)
        bars.progress.refresh()
        assert "row-a · p0 · seed 0 · long" in stream.getvalue()
        assert "5/12" in stream.getvalue() and "step 3/8" in stream.getvalue()
        bars.event("k1", "end", 1, 1)
        assert not bars.active


def test_a_runs_frames_do_not_depend_on_the_thread_count_of_the_process_running_it(tmp_path):
    """Every executor computes a run with `resources.num_cpus` threads (RunConfig.threads), so the
    process default (2 threads here, 1 in a pool worker) cannot change a single byte."""
    import torch

    document = {
        "name": "threads", "store": str(tmp_path / "runs"),
        "rows": [{"schedule": "td_f16k4f4k2f1k1_g9", "params": {"steps": 2},
                  "checkpoint": str(Path(__file__).resolve().parents[1] / "results/checkpoints/fp_vanilla.safetensors")}],
        "prompts": {"source": "lab", "split": "i2v", "count": 2}, "seeds": [0], "lengths": {"long": 2},
        "metrics": {"names": ["brightness"], "backend": "fake", "provider": "fake"}, "plugins": [PLUGIN],
        "resources": {"num_cpus": 1},
    }
    path = tmp_path / "threads.yaml"
    path.write_text(yaml.safe_dump(document))
    grid = load_and_resolve(path)
    before = torch.get_num_threads()
    frames = []
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            store = RunStore(tmp_path / f"runs{threads}")
            run_grid(grid, store_root=str(store.root), executor=make_executor("local"), progress=False)
            frames.append([store.read_exact_frames(run.key) for run in grid.runs])
            assert torch.get_num_threads() == threads  # restored after the run
    finally:
        torch.set_num_threads(before)
    for at_two, at_one in zip(*frames, strict=True):  # uncontrolled, a few pixels differ here
        np.testing.assert_array_equal(at_two, at_one)


@pytest.mark.slow
def test_a_killed_pool_worker_loses_only_its_runs_and_the_grid_goes_on(tmp_path):
    grid = make_grid(tmp_path, "killed")
    marker = tmp_path / "died"
    grid = load_and_resolve(tmp_path / "killed.yaml", [f"rows.0.params.die_once={marker}",
                                                       f"rows.1.params.die_once={marker}"])
    clean = make_grid(tmp_path, "clean")
    run_grid(clean, executor=make_executor("local"), progress=False)
    summary = run_grid(grid, executor=make_executor("process", jobs=2), progress=False)
    assert marker.exists()  # one worker was killed mid-run
    assert summary.counts == {"generated": 4, "already done": 0}
    store = RunStore(grid.spec.store)
    assert all(store.status(run.key).done for run in grid.runs)
    assert run_grid(grid, executor=make_executor("process", jobs=2), progress=False).counts == {"already done": 4}
    # Same values as a clean grid, run by run (keys differ: die_once is a row parameter).
    order = ["metric", "kind", "index"]
    for killed_run, clean_run in zip(grid.runs, clean.runs, strict=True):
        killed_values = store.read_metrics(killed_run.key).drop(columns="video").sort_values(order)
        clean_values = RunStore(clean.spec.store).read_metrics(clean_run.key).drop(columns="video").sort_values(order)
        pd.testing.assert_frame_equal(killed_values.reset_index(drop=True), clean_values.reset_index(drop=True))


@pytest.mark.slow
def test_a_run_that_kills_every_worker_is_recorded_as_failed_not_retried_forever(tmp_path, monkeypatch):
    import bench.executors.pool as pool

    monkeypatch.setattr(pool, "MAX_WORKER_DEATHS", 2)
    make_grid(tmp_path, "killer", prompts=1)
    grid = load_and_resolve(tmp_path / "killer.yaml", ["rows.0.params.die=true"])
    summary = run_grid(grid, executor=make_executor("process", jobs=1), progress=False)
    failed = [o for o in summary.outcomes if not o.ok]
    assert len(failed) == 1 and "died 2 times" in failed[0].error
    assert summary.counts.get("generated") == 1


@pytest.mark.slow
def test_a_killed_ray_worker_is_retried_and_the_grid_goes_on(tmp_path):
    ray = pytest.importorskip("ray", reason="the `ray` extra is not installed")
    make_grid(tmp_path, "ray_killed", prompts=1)
    marker = tmp_path / "died"
    grid = load_and_resolve(tmp_path / "ray_killed.yaml", [f"rows.0.params.die_once={marker}"])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_grid(grid, executor=RayExecutor(num_cpus=1, progress_queue=False), progress=False)
    finally:
        ray.shutdown()
    assert marker.exists()
    assert summary.counts == {"generated": 2, "already done": 0}
    assert all(RunStore(grid.spec.store).status(run.key).done for run in grid.runs)
