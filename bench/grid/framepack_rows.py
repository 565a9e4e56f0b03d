"""The "framepack" generator kind: a grid row with a schedule string becomes a
`framepack.framepack_generator.FramePackGenerator` over a lab checkpoint.

Row fields: `schedule` (the paper's notation), `order` (a sampling order; defaults to the
schedule's form), `checkpoint` (a packed-DiT file), and `params`, passed to the generator
(e.g. `steps`, `solver`, `shift`, `guidance`; unknown ones are rejected at validation), and
two files: `codec`, the latent codec checkpoint, and for a `+D` schedule `codebook`, the
discrete-history codebook. Both default to what the checkpoint's sidecar `<checkpoint>.json`
(written by the fine-tune recipe) names; the codec then to results/checkpoints/codec.safetensors.
Models load inside `build`, in the worker that runs the row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.grid.errors import GridError
from bench.grid.registry import GeneratorKind, register_generator_kind
from bench.grid.spec import RowSpec

ORDERS = ("vanilla", "anti_drifting", "inverted_anti_drifting", "multiple_endpoints")
DEFAULT_CODEC = "results/checkpoints/codec.safetensors"
_SCHEDULE_FORMS_AS_ORDERS = {"vanilla", "anti_drifting", "inverted_anti_drifting"}


def _parse_schedule(row: RowSpec) -> Any:
    try:
        from framepack.schedule import Schedule
    except ImportError as error:
        raise GridError(f"{row.key}.schedule", f"cannot check schedules: framepack.schedule is missing ({error})") from None
    try:
        return Schedule.parse(row.schedule)
    except ValueError as error:
        raise GridError(f"{row.key}.schedule", f"{row.schedule!r} is not a valid schedule: {error}") from None


def resolved_order(row: RowSpec) -> str:
    """The row's sampling order: `order:` if given, else the schedule's form.

    Raises:
        GridError: the order is unknown, or the schedule's form is "custom" and no order was given.
    """
    if row.order is not None:
        if row.order not in ORDERS:
            raise GridError(f"{row.key}.order", f"unknown sampling order {row.order!r}; expected one of {', '.join(ORDERS)}")
        return row.order
    form = getattr(_parse_schedule(row), "form", "custom")
    if form not in _SCHEDULE_FORMS_AS_ORDERS:
        raise GridError(
            f"{row.key}.order",
            f"schedule {row.schedule!r} has form {form!r}, which implies no sampling order; "
            f"set `order:` to one of {', '.join(ORDERS)}",
        )
    return form


# Set by the grid itself (schedule, order, checkpoint) or not settable from a YAML file.
_NOT_PARAMETERS = {"self", "model", "codec", "schedule", "order", "condition", "unconditional", "name"}


def generator_parameters() -> set[str]:
    """The `params:` a FramePack row may set: FramePackGenerator's keyword arguments that a
    YAML file can express, plus `codec` (the codec checkpoint)."""
    import inspect

    from framepack.framepack_generator import FramePackGenerator

    names = set(inspect.signature(FramePackGenerator.__init__).parameters)
    return (names - _NOT_PARAMETERS) | {"codec"}


def validate_framepack_row(row: RowSpec) -> None:
    """Parse the schedule and the order; a +D schedule needs `params.codebook`; file
    parameters must be paths (their existence is checked with the checkpoint's)."""
    schedule = _parse_schedule(row)
    resolved_order(row)
    for label in ("codec", "codebook"):
        value = row.params.get(label)
        if value is not None and not isinstance(value, str):
            raise GridError(f"{row.key}.params.{label}", f"expected a file path, got {value!r}")
    allowed = generator_parameters()
    for key in row.params:
        if key not in allowed:
            raise GridError(f"{row.key}.params.{key}",
                            f"unknown FramePack parameter {key!r}; expected one of {', '.join(sorted(allowed))}")
    if getattr(schedule, "discrete_history", False) and not _file_param(row, "codebook"):
        raise GridError(
            f"{row.key}.params.codebook",
            f"schedule {row.schedule!r} uses discrete history (+D) and needs `params.codebook` (a codebook "
            "file); the checkpoint's sidecar names none",
        )


def checkpoint_sidecar(checkpoint: str | None) -> dict[str, Any]:
    """The fine-tune recipe's `<checkpoint>.json` (schedule, order, codec, codebook), or {}."""
    if not checkpoint:
        return {}
    path = Path(checkpoint).with_suffix(".json")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _file_param(row: RowSpec, label: str) -> str | None:
    value = row.params.get(label) or checkpoint_sidecar(row.checkpoint).get(label)
    return str(value) if value else None


def framepack_files(row: RowSpec) -> dict[str, str]:
    """Files besides the checkpoint whose content determines the output: the codec (row
    `params.codec`, else the checkpoint's sidecar, else the lab codec) and, for +D, the
    codebook (row `params.codebook`, else the sidecar's)."""
    files = {"codec": _file_param(row, "codec") or DEFAULT_CODEC}
    codebook = _file_param(row, "codebook")
    if codebook and "+D" in str(row.schedule):
        files["codebook"] = codebook
    return files


def framepack_row_name(row: RowSpec) -> str:
    """The paper's row name: the schedule in its notation, plus the order when it differs
    from the schedule's own form (e.g. a vanilla schedule sampled anti-drifting)."""
    schedule = _parse_schedule(row)
    name = str(schedule)
    order = resolved_order(row)
    if order != getattr(schedule, "form", None):
        name = f"{name} ({order})"
    return name


def build_framepack_generator(row: RowSpec) -> Any:
    """Load the checkpoint and codec and return a FramePackGenerator for `row`."""
    from framepack.framepack_generator import FramePackGenerator  # noqa: I001 (ruff's grouping flips)
    from framepack.lab.codec import LabCodec
    from framepack.lab.model import PackedDiT

    params = dict(row.params)
    codec = LabCodec.load(params.pop("codec", DEFAULT_CODEC))
    model = PackedDiT.load(row.checkpoint)
    model.eval()
    return FramePackGenerator(model=model, codec=codec, schedule=_parse_schedule(row), order=resolved_order(row), **params)


FRAMEPACK = register_generator_kind(
    GeneratorKind(
        name="framepack",
        build=build_framepack_generator,
        validate=validate_framepack_row,
        display_name=framepack_row_name,
        needs_checkpoint=True,
        extra_files=framepack_files,
        description="FramePack with a packing schedule and a sampling order (framepack/)",
    )
)
