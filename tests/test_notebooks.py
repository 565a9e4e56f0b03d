"""The analysis notebooks run top to bottom (nbclient) on the demo's results — or, before
results/demo/ exists, on a small grid this test runs with the harness — and show what they promise."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_ablation_tables", "02_drift_analysis", "03_human_eval"]
PLUGIN = str(Path(__file__).with_name("fake_harness_plugin.py"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results_folder(tmp_path_factory) -> Path:
    """results/demo/ when the demo's results are there; else a small fake grid run by the harness,
    rated by simulated judges, exactly as `fpbench demo` does."""
    demo = ROOT / "results" / "demo"
    if (demo / "summary.parquet").is_file() and (demo / "ratings" / "battles.parquet").is_file():
        return demo
    from bench.demo import run_demo

    tmp_path = tmp_path_factory.mktemp("notebook-grid")
    document = {
        "name": "notebook-fixture",
        "plugins": [PLUGIN],
        "store": str(tmp_path / "runs"),
        "rows": [{"generator": "fake_video", "params": {"drift": 1.0}},
                 {"generator": "fake_video", "params": {"drift": 6.0, "reverse": True}},
                 {"generator": "fake_video", "params": {"drift": 12.0}}],
        "prompts": {"source": "lab", "split": "i2v", "count": 3},
        "seeds": [0, 1],
        "lengths": {"short": 2, "long": 5},
        "metrics": {"names": ["brightness", "flicker"], "backend": "fake", "provider": "fake",
                    "drift": ["brightness", "flicker"]},
        "rating": {"enabled": True, "judges": "simulated", "per_row": 40, "seed": 1},
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(document))
    run_demo(path, results_root=tmp_path / "results", progress=False)
    return tmp_path / "results" / "notebook-fixture"


def execute(name: str, results: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("FPBENCH_RESULTS", str(results))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    return notebook


def texts(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text, markdown or HTML."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            for mime in ("text/plain", "text/markdown", "text/html"):
                parts.append(str(output.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def images(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells for output in cell.get("outputs", []))


def test_notebooks_are_committed_without_outputs():
    for name in NOTEBOOKS:
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), name


def test_ablation_notebook_rebuilds_the_table_and_tests_rows(results_folder, monkeypatch):
    from bench.analysis import load_results

    results = load_results(results_folder)
    notebook = execute("01_ablation_tables", results_folder, monkeypatch)
    shown = texts(notebook)
    for row in results.rows:
        assert f"`{row}` |" in shown  # the rebuilt markdown table names every row (plain name — notation)
    assert "p_holm" in shown and "significant at 5 % after Holm" in shown
    assert images(notebook) >= len(results.lengths)  # one table figure per length


def test_drift_notebook_shows_curves_contrast_and_correlations(results_folder, monkeypatch):
    from bench.analysis import load_results

    results = load_results(results_folder)
    notebook = execute("02_drift_analysis", results_folder, monkeypatch)
    shown = texts(notebook)
    assert "delta_ci_low" in shown and "position" in shown
    for metric in results.drift_metrics:
        assert metric in shown
    assert images(notebook) >= len(results.lengths)


def test_human_eval_notebook_rates_and_labels_simulated_votes(results_folder, monkeypatch):
    from bench.analysis import load_results

    results = load_results(results_folder)
    notebook = execute("03_human_eval", results_folder, monkeypatch)
    shown = texts(notebook)
    if results.simulated_ratings:
        assert "SIMULATED judges — not human votes" in shown
    assert "bt_lower" in shown and "binomial_p" in shown and "97.5%" in shown
    assert images(notebook) == 3  # ratings with intervals, win-rate matrix, metric agreement
    assert "Kendall τ" in shown and "decisive A/B votes" in shown
    if results.simulated_ratings:
        assert "agree with them by construction" in shown
    votes = len(results.ratings["battles"])
    judges = results.ratings["battles"]["judge"].nunique()
    assert f"{votes} votes by {judges} annotators" in shown
    for row in results.ratings["ratings"]["model"]:
        assert row in shown


def test_notebooks_hold_no_function_definitions_beyond_display():
    # Logic lives in the package: a notebook may only define the small `show` display helper.
    for name in NOTEBOOKS:
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
        defined = [line.split("(")[0][4:] for line in source.splitlines() if line.startswith("def ")]
        assert defined in ([], ["show"]), (name, defined)
        assert "class " not in source, name


def test_environment_has_the_notebooks_extra():
    import ipykernel  # noqa: F401
    import nbclient  # noqa: F401

    extras = (ROOT / "pyproject.toml").read_text()
    assert 'notebooks = ["nbclient' in extras
    assert os.path.isfile(ROOT / "notebooks" / "01_ablation_tables.ipynb")
