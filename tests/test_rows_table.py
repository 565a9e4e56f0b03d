import json
import shutil
from pathlib import Path

from bench.train.evaluate import REFERENCE_ROWS
from bench.train.rows_table import recipe_of, rows_table

CHECKPOINTS = Path(__file__).resolve().parents[1] / "results" / "checkpoints"


def test_every_committed_row_is_listed_with_its_recipe_and_its_sidecars_steps():
    lines = rows_table().splitlines()[2:]
    assert [line.split(" | ")[0].lstrip("| ") for line in lines] == list(REFERENCE_ROWS)
    for line, row in zip(lines, REFERENCE_ROWS, strict=True):
        trained = json.loads((CHECKPOINTS / f"{row}.json").read_text())
        assert f"`{recipe_of(row)}` | {trained['steps']} |" in line


def test_a_row_without_a_quality_bar_shows_dashes_and_not_applicable_targets_are_not_counted(tmp_path):
    for row in REFERENCE_ROWS:
        shutil.copy(CHECKPOINTS / f"{row}.json", tmp_path / f"{row}.json")
    report = json.loads((CHECKPOINTS / "quality_report.json").read_text())
    first, second = list(REFERENCE_ROWS)[:2]
    del report["rows"][first]
    report["rows"][second]["met"] = {"presence": True, "moves": None, "degradation_gap": False}
    (tmp_path / "quality_report.json").write_text(json.dumps(report))
    lines = rows_table(tmp_path).splitlines()[2:]
    assert lines[0].endswith("– | – | – | – |")
    assert lines[1].endswith("| 1/2 |")
