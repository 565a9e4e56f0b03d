"""Every file a grid needs before it can run — generator weights, checkpoints, the prompt file, metric
weights — and whether each is here: what `fpbench run --dry-run GRID` lists so a user can prepare a
machine. Nothing is loaded or run; only the grid's shape is validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.grid.registry import generator_kind, load_plugins, metric_provider
from bench.grid.spec import GridSpec


@dataclass(frozen=True)
class Requirement:
    """One needed file: who needs it, where it goes, whether it is present, where it comes from."""

    needed_by: str
    path: str
    present: bool
    source: str = ""


def grid_requirements(spec: GridSpec) -> list[Requirement]:
    """The files `spec` needs, in grid order: each row's weights (or checkpoint and extra files), the
    prompt file, then each metric that cannot run here with the reason its backend gives (the missing
    weight file).

    Raises:
        GridError: an unknown generator kind, a bad row param, an unknown metric or backend.
    """
    load_plugins(spec.plugins, spec.base_dir)
    needed: list[Requirement] = []
    for row in spec.rows:
        kind = generator_kind(row.kind, key=f"{row.key}.{row.kind_field}", source=spec.source)
        owner = row.name or (kind.display_name(row) if kind.display_name else row.kind)
        if kind.weight_files is not None:
            needed += [Requirement(owner, f.path, f.present, f.source) for f in kind.weight_files(row)]
            continue
        files = {"checkpoint": row.checkpoint} if row.checkpoint else {}
        files.update(kind.extra_files(row) if kind.extra_files else {})
        for label, path in files.items():
            hint = f"fpbench train {row.recipe}" if row.recipe and label == "checkpoint" else ""
            needed.append(Requirement(owner, str(path), Path(path).expanduser().is_file(), hint))
    if spec.prompts.source == "file":
        path = Path(spec.prompts.path)
        if not path.is_absolute() and spec.base_dir is not None and (spec.base_dir / path).exists():
            path = spec.base_dir / path
        needed.append(Requirement("prompts", str(path), path.is_file(),
                                  "your prompt set: JSON/CSV of prompt + start image (see docs/full-scale.md)"))
    provider = metric_provider(spec.metrics.provider, spec.source)
    provider.check(spec.metrics.names, spec.metrics.backend)
    unavailable = provider.unavailable(spec.metrics.names, spec.metrics.backend)
    for name in spec.metrics.names:
        if name in unavailable:
            needed.append(Requirement(f"metric {name} [{spec.metrics.backend}]", unavailable[name], False,
                                      "fpbench weights lists where each metric file goes"))
    return needed
