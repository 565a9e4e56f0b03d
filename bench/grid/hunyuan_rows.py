"""The "hunyuan" generator kind: a grid row that runs the released FramePack model at full scale.

    rows:
      - generator: hunyuan
        params: {weights: /data/framepack, order: inverted_anti_drifting, steps: 25, offload: model}

`params.weights` is the local weights folder (diffusers' layout); every other param is a
`framepack.hunyuan.generator.HunyuanOptions` field. Validation names each missing weight file
before any work starts. The transformer's config.json is hashed into the run key (hashing the
multi-GB weights on every resolve would be too slow).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench.grid.errors import GridError
from bench.grid.registry import GeneratorKind, register_generator_kind
from bench.grid.spec import RowSpec


def _options(row: RowSpec) -> tuple[str, dict[str, Any]]:
    from framepack.hunyuan.generator import HunyuanOptions

    params = dict(row.params)
    weights = params.pop("weights", None)
    if not isinstance(weights, str):
        raise GridError(f"{row.key}.params.weights", f"expected the local weights folder (a path), got {weights!r}")
    known = {field.name for field in dataclasses.fields(HunyuanOptions)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise GridError(f"{row.key}.params", f"unknown hunyuan options {unknown}; expected some of {sorted(known)}")
    return weights, params


def validate_hunyuan_row(row: RowSpec) -> None:
    """Known options with valid values, and a complete weights folder (MissingWeightsError lists the files)."""
    from framepack.hunyuan.generator import HunyuanOptions
    from framepack.hunyuan.weights import check_weights_folder

    weights, params = _options(row)
    try:
        options = HunyuanOptions(**params)
    except ValueError as error:
        raise GridError(f"{row.key}.params", str(error)) from None
    check_weights_folder(weights, options.order)


def hunyuan_row_name(row: RowSpec) -> str:
    """`hunyuan:<released schedule>`, as the generator names itself."""
    from framepack.hunyuan.layout import released_schedule

    _, params = _options(row)
    return "hunyuan:" + released_schedule(params.get("order", "inverted_anti_drifting"), params.get("window", 9))


def hunyuan_files(row: RowSpec) -> dict[str, str]:
    weights, _ = _options(row)
    return {"transformer_config": str(Path(weights) / "transformer" / "config.json")}


def hunyuan_settings(row: RowSpec) -> dict[str, Any]:
    """Every HunyuanOptions field, defaults included (hashed into the run key)."""
    from framepack.hunyuan.generator import HunyuanOptions

    _, params = _options(row)
    return {name: repr(value) if not isinstance(value, bool | int | float | str | None) else value
            for name, value in sorted(dataclasses.asdict(HunyuanOptions(**params)).items())}


def build_hunyuan_generator(row: RowSpec) -> Any:
    from framepack.hunyuan.generator import load_hunyuan_generator

    weights, params = _options(row)
    return load_hunyuan_generator(weights, **params)


HUNYUAN = register_generator_kind(
    GeneratorKind(
        name="hunyuan",
        build=build_hunyuan_generator,
        validate=validate_hunyuan_row,
        display_name=hunyuan_row_name,
        needs_checkpoint=False,
        extra_files=hunyuan_files,
        settings=hunyuan_settings,
        description="the released FramePack (HunyuanVideo) model from a local weights folder (full scale)",
    )
)
