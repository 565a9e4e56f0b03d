"""Reliability: SIGKILL a grid mid-way, rerun it, and get exactly what an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench.executors import make_executor, run_grid
from bench.grid import load_and_resolve
from bench.run_store import RunStore

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))
ROOT = str(Path(__file__).resolve().parents[1])
CLI = ("import sys, bench.cli as cli; cli.SUBCOMMAND_MODULES = ['run', 'status', 'table']; "
       "sys.exit(cli.main(sys.argv[1:]))")


def write_grid(tmp_path: Path, store: str, log: str) -> Path:
    document = {
        "name": "kill-test",
        "plugins": [PLUGIN],
        "store": str(tmp_path / store),
        "rows": [{"generator": "fake_video", "params": {"drift": 3.0, "delay": 0.15, "log": str(tmp_path / log)}},
                 {"generator": "fake_video", "params": {"drift": 7.0, "delay": 0.15, "reverse": True,
                                                        "log": str(tmp_path / log)}}],
        "prompts": {"source": "file", "path": str(tmp_path / "prompts.txt")},
        "seeds": [0],
        "lengths": {"long": 4},
        "metrics": {"names": ["brightness", "flicker"], "backend": "fake", "provider": "fake"},
    }
    (tmp_path / "prompts.txt").write_text("a red ball\na blue cube\na green star\na white moon\n")
    path = tmp_path / f"{store}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def cli(path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLI, "run", str(path), "--no-progress", "--no-table", *extra],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def starts(log: Path) -> list[str]:
    return [line[len("start "):] for line in log.read_text().splitlines() if line.startswith("start ")]


def identity(run) -> str:
    return f"{run.prompt.prompt}|{run.seed}|{run.length.sections}|{run.row.params['drift']}"


@pytest.mark.slow
@pytest.mark.parametrize("executor", [["--executor", "local"], ["--executor", "process", "--jobs", "2"]],
                         ids=["local", "process"])
def test_sigkill_mid_grid_then_rerun_finishes_every_run_exactly_once(tmp_path, executor):
    path = write_grid(tmp_path, "runs", "log.txt")
    grid = load_and_resolve(path)
    store = RunStore(grid.spec.store)
    keys = [run.key for run in grid.runs]

    process = cli(path, *executor)
    deadline = time.time() + 120
    while time.time() < deadline:
        states = [store.status(k).state for k in keys]
        in_progress = [k for k, s in zip(keys, states, strict=True)
                       if s == "pending" and store.run_dir(k).is_dir()
                       and any(p.name != ".lock" for p in store.run_dir(k).iterdir())]
        if states.count("done") >= 2 and in_progress:
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    else:
        pytest.fail("the grid never reached a state with finished and half-done runs")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    done_before = {k: (store.run_dir(k) / "status.json").read_bytes() for k in keys if store.status(k).done}
    assert 2 <= len(done_before) < len(keys)
    partial = [k for k in keys if not store.status(k).done and store.run_dir(k).is_dir()]
    assert partial, "no half-written run folder was left by the kill"
    assert all(store.status(k).state == "pending" for k in partial)  # a partial folder is never counted

    rerun = cli(path, *executor)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    assert f"{len(done_before)} already done" in out.decode()

    # Every run is done; runs finished before the kill were not touched, nor generated again.
    assert all(store.status(k).done for k in keys)
    for key, status_bytes in done_before.items():
        assert (store.run_dir(key) / "status.json").read_bytes() == status_bytes
    started = starts(tmp_path / "log.txt")
    for run in grid.runs:
        if run.key in done_before:
            assert started.count(identity(run)) == 1
        else:
            assert 1 <= started.count(identity(run)) <= 2
    for key in keys:
        assert not [p.name for p in store.run_dir(key).iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]

    # Identical to an uninterrupted run of the same grid.
    clean_path = write_grid(tmp_path, "clean", "log.txt")  # same params, so the same run keys
    clean_grid = load_and_resolve(clean_path)
    assert [r.key for r in clean_grid.runs] == keys
    run_grid(clean_grid, executor=make_executor("local"), progress=False)
    clean = RunStore(clean_grid.spec.store)
    for key in keys:
        np.testing.assert_array_equal(store.read_frames(key), clean.read_frames(key))
        pd.testing.assert_frame_equal(store.read_metrics(key), clean.read_metrics(key))
        assert (store.run_dir(key) / "config.yaml").read_text() == (clean.run_dir(key) / "config.yaml").read_text()
