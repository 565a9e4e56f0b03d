"""Figures: drawn from parsed schedules, the sampler's section plans and the files of a finished grid,
written as PNG and PDF by `fpbench figures`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

import bench.cli
from bench.figures import (
    context_length_table,
    draw_order,
    draw_rating_intervals,
    draw_schedule,
    draw_table,
    frame_indices,
    grid_figures,
    order_cells,
    plan_for_order,
    save_figure,
    schedule_layout,
)
from bench.figures.order_diagram import start_gap
from bench.figures.schedule_diagram import diagram_history
from framepack.schedule import Schedule, geometric_schedule, random_schedule
from framepack.section_plan import ORDERS, plan_sections, released_inverted_paddings

PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))
FIGURE_1_VARIANTS = [
    "td_f16k4f2k2f1k1_g9",                      # typical geometric progression
    "td_f16k4f16k4f2k2f2k2f1k1_g9",             # duplicated levels
    "td_f8k4h2w2f2k2h2w2f1k1_g9",               # temporal kernels
    "f1k1_td_f16k4f2k2f1k1_g9",                 # important start
    "td_f16k4f2k2f1k1_g9_f1k1f2k2f16k4_td",     # symmetric progression
    "f1k1_x_g9_f1k1f2k2f16k4_ta",               # inverted with a ta tail
    "td_f16k4f4k2f1k1_g9_x_f1k1+D",             # anti-drifting, discrete history
]


# ----------------------------------------------------------------------------- Figure 1


@pytest.mark.parametrize("notation", FIGURE_1_VARIANTS)
def test_schedule_diagram_tokens_are_the_schedules_token_count(notation):
    schedule = Schedule.parse(notation)
    boxes = schedule_layout(schedule, (8, 8))
    assert [box.piece for box in boxes] == list(range(len(schedule.pieces)))
    assert sum(box.tokens for box in boxes) == schedule.token_count(diagram_history(schedule), (8, 8))
    for box, piece in zip(boxes, schedule.pieces, strict=True):
        if box.kind == "group":
            assert box.width == piece.frames and box.kernel == piece.kernel and box.frames == piece.frames
        if box.kind == "generated":
            assert box.width == schedule.frames_per_section
    # Boxes are laid out left to right without overlap.
    assert all(a.x + a.width <= b.x + 1e-9 for a, b in zip(boxes, boxes[1:], strict=False))


def test_schedule_diagram_follows_random_schedules_and_latent_sizes():
    rng = random.Random(7)
    for _ in range(40):
        schedule = random_schedule(rng)
        latent = (rng.choice([4, 8, 12]), rng.choice([6, 8, 16]))
        history = rng.randint(0, 60)
        boxes = schedule_layout(schedule, latent, history)
        assert sum(box.tokens for box in boxes) == schedule.token_count(history, latent), str(schedule)


def test_tail_modes_draw_what_the_tail_costs():
    tokens = {}
    for mode in ("td", "ta", "tc"):
        boxes = schedule_layout(f"f1k1_x_g9_f1k1f2k2f16k4_{mode}")
        tail = [box for box in boxes if box.kind == "tail"][0]
        assert tail.tail_mode == mode and tail.frames == 3
        tokens[mode] = tail.tokens
    assert tokens == {"td": 0, "ta": 3, "tc": 1}


def test_schedule_figure_titles_total_against_bound():
    figure = draw_schedule("td_f16k4f4k2f1k1_g9", (8, 8))
    title = figure._suptitle.get_text()
    assert "td_f16k4f4k2f1k1_g9" in title and "bound (S + λ/(λ−1))·L_f = 176" in title
    assert "tokens: 172 = 9·L_f generated + 28 context" in title


# ----------------------------------------------------------------------------- Figure 2


@pytest.mark.parametrize("order", ORDERS)
def test_order_diagram_cells_are_the_sampler_plan(order):
    schedule = "td_f16k4f4k2f1k1_g9_x_f1k1" if order in ("anti_drifting", "multiple_endpoints") else (
        "f1k1_x_g9_f1k1f2k2f16k4_td" if order == "inverted_anti_drifting" else "td_f16k4f4k2f1k1_g9")
    drawn = plan_for_order(schedule, order, num_sections=5, has_start=True)
    endpoints = (1, 4) if order == "multiple_endpoints" else None
    assert drawn.plans == plan_sections(schedule, 5, order, has_start=True, endpoints=endpoints)
    cells = order_cells(drawn)
    assert cells["run"].nunique() == len(drawn.plans)
    made = {0}
    for run, plan in enumerate(drawn.plans):
        line = cells[cells["run"] == run]
        assert set(line.loc[line["state"] == "generated", "frame"]) == set(plan.generated)
        assert set(line.loc[line["state"] == "context", "frame"]) == set(plan.referenced_frames)
        assert set(line.loc[line["state"] == "known", "frame"]) == made - set(plan.referenced_frames)
        assert set(line.loc[line["state"] == "context", "frame"]) <= made  # context reads only known frames
        made |= set(plan.generated)
    assert made == set(range(1 + 5 * 9))


def test_order_diagrams_differ_by_order():
    vanilla = order_cells(plan_for_order("td_f16k4f4k2f1k1_g9", "vanilla", 3))
    inverted = order_cells(plan_for_order("f1k1_x_g9_f1k1f2k2f16k4_td", "inverted_anti_drifting", 3))
    first_vanilla = vanilla[(vanilla["run"] == 0) & (vanilla["state"] == "generated")]["frame"]
    first_inverted = inverted[(inverted["run"] == 0) & (inverted["state"] == "generated")]["frame"]
    assert list(first_vanilla) == list(range(1, 10))      # time order: the first section first
    assert list(first_inverted) == list(range(19, 28))    # reverse order: the last section first
    start_read = inverted[(inverted["frame"] == 0) & (inverted["state"] == "context")]
    assert len(start_read) == 3 and set(start_read["role"]) == {"start"}  # every inverted run sees the start frame
    gaps = [start_gap(plan) for plan in plan_for_order("f1k1_x_g9_f1k1f2k2f16k4_td", "inverted_anti_drifting", 6).plans]
    assert gaps == [9 * p for p in released_inverted_paddings(6)]  # the released loop's shortened gaps
    assert "zero slots" in " ".join(t.get_text() for t in draw_order(plan_for_order(
        "td_f16k4f4k2f1k1_g9", "vanilla", 3)).axes[0].texts)


# ----------------------------------------------------------------------------- context length


def test_context_length_is_the_token_count_and_geometric_schedules_stay_under_the_bound():
    schedules = [geometric_schedule(levels, 9) for levels in (2, 4, 6)]
    table = context_length_table(schedules, (16, 16), max_history=40)
    for schedule in schedules:
        part = table[table["schedule"] == str(schedule)]
        assert list(part["tokens"]) == [schedule.token_count(h, (16, 16)) for h in range(41)]
        assert (part["tokens"] <= part["bound"] + 1e-9).all()
        assert part["tokens"].is_monotonic_increasing
    with pytest.raises(ValueError, match="max_history"):
        context_length_table(schedules, max_history=-1)


# ----------------------------------------------------------------------------- files and style


def test_save_figure_writes_png_and_pdf_atomically_and_reproducibly(tmp_path):
    first = save_figure(draw_schedule("td_f16k4f4k2f1k1_g9"), tmp_path / "a" / "schedule")
    second = save_figure(draw_schedule("td_f16k4f4k2f1k1_g9"), tmp_path / "b" / "schedule")
    assert [p.name for p in first] == ["schedule.png", "schedule.pdf"]
    assert first[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and first[1].read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["schedule.pdf", "schedule.png"]  # no temp files
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_sample_times_pick_first_and_last_frames():
    assert frame_indices(15, (0.0, 0.5, 1.0)) == [0, 7, 14]
    with pytest.raises(ValueError, match="fractions"):
        frame_indices(15, (1.5,))


# ----------------------------------------------------------------------------- a finished grid


@pytest.fixture(scope="module")
def finished_grid(tmp_path_factory):
    from bench.demo import run_demo

    tmp_path = tmp_path_factory.mktemp("figures")
    document = {
        "name": "figure-test",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 1.0}},
                 {"generator": "fake_video", "params": {"drift": 12.0}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 2},
        "seeds": [0],
        "lengths": {"long": 4},
        "metrics": {"names": ["brightness", "flicker"], "backend": "fake", "provider": "fake",
                    "drift": ["brightness", "flicker"]},
        "rating": {"enabled": True, "judges": "simulated", "per_row": 30, "seed": 2},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    run_demo(path, results_root=tmp_path / "results", progress=False)
    return path, tmp_path


def test_grid_figures_draws_every_result_figure_from_disk(finished_grid):
    path, tmp_path = finished_grid
    report = grid_figures(path, results_root=tmp_path / "results")
    out = tmp_path / "results" / "figure-test" / "figures"
    assert set(report.written) == {"table_long", "drift_long", "samples_long", "ratings", "win_rate"}
    for name in report.written:
        assert (out / f"{name}.png").stat().st_size > 5_000 and (out / f"{name}.pdf").is_file()
    manifest = json.loads((out / "figures.json").read_text())
    assert manifest["figures"]["ratings"] == ["ratings.png", "ratings.pdf"]
    assert "no FramePack (schedule) rows" in manifest["skipped"]["schedule figures"]


def test_result_figures_come_from_saved_files_when_the_store_is_gone(finished_grid, tmp_path):
    path, grid_tmp = finished_grid
    document = yaml.safe_load(path.read_text())
    document["store"] = str(tmp_path / "empty-store")  # e.g. a fresh clone: results/ committed, runs/ not
    moved = tmp_path / "grid.yaml"
    moved.write_text(yaml.safe_dump(document))
    report = grid_figures(moved, out_dir=tmp_path / "out", results_root=grid_tmp / "results")
    assert {"table_long", "drift_long", "ratings", "win_rate"} <= set(report.written)
    assert "samples_long" in report.skipped and "not in the store" in report.skipped["samples_long"]


def test_a_partial_store_never_overwrites_fuller_saved_results(finished_grid, tmp_path):
    import shutil

    path, grid_tmp = finished_grid
    results = tmp_path / "results"
    shutil.copytree(grid_tmp / "results", results)
    store = tmp_path / "partial-store"
    shutil.copytree(grid_tmp / "runs", store)
    saved = (results / "figure-test" / "table.md").read_text()
    removed = sorted(p for p in store.iterdir() if (p / "status.json").is_file())[0]
    shutil.rmtree(removed)  # one run fewer than the saved results hold
    report = grid_figures(path, out_dir=tmp_path / "out", results_root=results, store=store)
    assert "using saved results" in report.notes["table refresh"]
    assert (results / "figure-test" / "table.md").read_text() == saved


def test_table_and_rating_figures_label_simulated_votes(finished_grid):
    from bench.analysis import load_results

    _, tmp_path = finished_grid
    results = load_results(tmp_path / "results" / "figure-test")
    assert results.simulated_ratings
    table = draw_table(results.summary, "long", "figure-test")
    assert "SIMULATED" in table.axes[0].get_title()
    board = draw_rating_intervals(results.ratings["ratings"], 32, "figure-test")
    assert "SIMULATED judges" in board.axes[0].get_title()
    with pytest.raises(ValueError, match="'short'"):
        draw_table(results.summary, "short")


def test_fpbench_figures_all_draws_schedule_figures_without_checkpoints(tmp_path, capsys):
    grids = tmp_path / "grids"
    grids.mkdir()
    (grids / "orders.yaml").write_text(yaml.safe_dump({
        "name": "orders",
        "rows": [{"schedule": "f1k1_x_g9_f1k1f2k2f16k4_td", "checkpoint": str(tmp_path / "missing.safetensors")},
                 {"schedule": "td_f16k4f4k2f1k1_g9", "checkpoint": str(tmp_path / "missing.safetensors")}],
        "prompts": {"source": "lab", "split": "i2v", "count": 1},
        "lengths": {"long": 3},
        "metrics": {"names": ["clarity"], "backend": "lab"},
    }))
    code = bench.cli.main(["figures", "all", "--grids", str(grids), "--out", str(tmp_path / "out"),
                           "--results", str(tmp_path / "results"), "--sections", "3"])
    assert code == 0
    out = tmp_path / "out" / "orders"
    expected = ["context_length", "order_inverted_anti_drifting_f1k1_x_g9_f1k1f2k2f16k4_td",
                "order_vanilla_td_f16k4f4k2f1k1_g9", "schedule_f1k1_x_g9_f1k1f2k2f16k4_td",
                "schedule_td_f16k4f4k2f1k1_g9"]
    assert sorted(p.stem for p in out.glob("*.png")) == expected
    assert sorted(p.stem for p in out.glob("*.pdf")) == expected
    manifest = json.loads((out / "figures.json").read_text())
    assert "fpbench table" in manifest["skipped"]["result figures"]
    assert "does not exist" in manifest["notes"]["table refresh"]
    assert "not drawn" in capsys.readouterr().err


def test_fpbench_figures_names_a_missing_grid_without_traceback(tmp_path, capsys):
    assert bench.cli.main(["figures", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
    assert bench.cli.main(["figures", "all", "--grids", str(tmp_path)]) == 2
    assert "no grid files" in capsys.readouterr().err
