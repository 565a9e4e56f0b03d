"""Generator kinds for full-scale rows: released models loaded from a local weights folder.

    rows:
      - generator: hunyuan          # FramePack (inverted: FramePackI2V_HY; vanilla: FramePack-F1)
        params: {weights: /data/framepack, order: inverted_anti_drifting, steps: 25, offload: model,
                 cache: {kind: first_block, threshold: 0.05}}
      - generator: skyreels_df      # SkyReels-V2 diffusion forcing
        params: {weights: /data/skyreels-v2-df-14b-540p, addnoise_condition: 20, ar_step: 0}
      - generator: hunyuan_i2v      # repeated image-to-video on HunyuanVideo-I2V
        params: {weights: /data/hunyuanvideo-i2v, latent_frames: 10}

`params.weights` is the local folder (diffusers' layout); every other param is a field of the
model's options dataclass. Validation names each missing weight file, and the repository it comes
from, before any work starts; `weight_files` lists them all for `fpbench run --dry-run`. The
transformer's config.json is hashed into the run key (hashing the multi-GB weights on every resolve
would be too slow).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.grid.errors import GridError
from bench.grid.registry import GeneratorKind, RequiredFile, register_generator_kind
from bench.grid.spec import RowSpec

CONFIG_LABEL = "transformer_config"  # the file hashed into a full-scale run's key


@dataclass(frozen=True)
class FullScaleModel:
    """How one released model becomes a grid row kind.

    Attributes:
        kind: the row's `generator:` name.
        options: the options dataclass its params fill (validated in `__post_init__`).
        specs: options -> the weight folder's components (`framepack.hunyuan.weights.ComponentSpec`).
        title: what the weights are, for messages.
        load: (weights folder, params) -> Generator.
        display: options -> the table row name when the row has no `name:`.
        description: one line for listings.
    """

    kind: str
    options: Callable[[], type]
    specs: Callable[[Any], tuple]
    title: str
    load: Callable[[str, dict[str, Any]], Any]
    display: Callable[[Any], str]
    description: str


def _split(model: FullScaleModel, row: RowSpec) -> tuple[str, dict[str, Any], Any]:
    """(weights folder, option params, validated options) of a row; GridError naming a bad param."""
    options_class = model.options()
    params = dict(row.params)
    params.pop(CONFIG_LABEL, None)  # the resolver adds the hashed file's path to the params
    weights = params.pop("weights", None)
    if not isinstance(weights, str):
        raise GridError(f"{row.key}.params.weights", f"expected the local weights folder (a path), got {weights!r}")
    known = {field.name for field in dataclasses.fields(options_class)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise GridError(f"{row.key}.params", f"unknown {model.kind} options {unknown}; expected some of {sorted(known)}")
    try:
        options = options_class(**params)
    except ValueError as error:
        raise GridError(f"{row.key}.params", str(error)) from None
    return weights, params, options


def _cache_suffix(options) -> str:
    cache = getattr(options, "cache", None)
    return f"+cache:{cache.describe()}" if cache is not None else ""


def register_full_scale(model: FullScaleModel) -> GeneratorKind:
    """Register `model` as a generator kind (validate, name, build, files to hash, files to list)."""
    from framepack.hunyuan.weights import check_components

    def validate(row: RowSpec) -> None:
        weights, _, options = _split(model, row)
        check_components(weights, model.specs(options), model.title)

    def weight_files(row: RowSpec) -> list[RequiredFile]:
        weights, _, options = _split(model, row)
        folder = Path(weights).expanduser()
        return [RequiredFile(str(folder / path), present, spec.source)
                for spec in model.specs(options) for path, present in spec.requirements(folder)]

    def build(row: RowSpec) -> Any:
        weights, params, _ = _split(model, row)
        return model.load(weights, params)

    def settings(row: RowSpec) -> dict[str, Any]:
        """Every option, defaults included (hashed into the run key); nested values as sorted JSON."""
        options = _split(model, row)[2]
        return {name: value if isinstance(value, bool | int | float | str | None)
                else json.dumps(value, sort_keys=True, default=str)
                for name, value in sorted(dataclasses.asdict(options).items())}

    return register_generator_kind(GeneratorKind(
        name=model.kind,
        build=build,
        validate=validate,
        display_name=lambda row: model.display(_split(model, row)[2]),
        needs_checkpoint=False,
        extra_files=lambda row: {CONFIG_LABEL: str(Path(_split(model, row)[0]) / "transformer" / "config.json")},
        weight_files=weight_files,
        settings=settings,
        description=model.description,
    ))


# -- FramePack (HunyuanVideo) --------------------------------------------------------------------------


def _hunyuan_options():
    from framepack.hunyuan.generator import HunyuanOptions

    return HunyuanOptions


def _hunyuan_specs(options) -> tuple:
    from framepack.hunyuan.weights import component_specs

    return component_specs(options.order)


def _load_hunyuan(weights: str, params: dict[str, Any]) -> Any:
    from framepack.hunyuan.generator import load_hunyuan_generator

    return load_hunyuan_generator(weights, **params)


def _hunyuan_name(options) -> str:
    from framepack.hunyuan.layout import released_schedule

    return "hunyuan:" + released_schedule(options.order, options.window) + _cache_suffix(options)


HUNYUAN = register_full_scale(FullScaleModel(
    kind="hunyuan", options=_hunyuan_options, specs=_hunyuan_specs, title="full-scale FramePack weights",
    load=_load_hunyuan, display=_hunyuan_name,
    description="the released FramePack (HunyuanVideo) model from a local weights folder (full scale)",
))


# -- SkyReels-V2 diffusion forcing ---------------------------------------------------------------------


def _skyreels_options():
    from baselines.skyreels_df import SkyReelsOptions

    return SkyReelsOptions


def _skyreels_specs(options) -> tuple:
    from baselines.skyreels_df import skyreels_component_specs

    return skyreels_component_specs(options.repository)


def _load_skyreels(weights: str, params: dict[str, Any]) -> Any:
    from baselines.skyreels_df import load_skyreels_df

    return load_skyreels_df(weights, **params)


def _skyreels_name(options) -> str:
    return (f"skyreels_df(addnoise={options.addnoise_condition:g}, ar_step={options.ar_step})"
            + _cache_suffix(options))


SKYREELS_DF = register_full_scale(FullScaleModel(
    kind="skyreels_df", options=_skyreels_options, specs=_skyreels_specs,
    title="SkyReels-V2 diffusion-forcing weights", load=_load_skyreels, display=_skyreels_name,
    description="SkyReels-V2 diffusion forcing (noisy history at full scale) from a local weights folder",
))


# -- repeated image-to-video on HunyuanVideo-I2V ----------------------------------------------------------


@dataclass(frozen=True)
class HunyuanI2VRowOptions:
    """A `hunyuan_i2v` row's params: `ImageToVideoOptions` fields plus where the model runs."""

    height: int = 544
    width: int = 960
    latent_frames: int = 10
    steps: int = 25
    guidance_scale: float = 6.0
    fps: int = 24
    device: str | None = None
    dtype: str | None = None

    def __post_init__(self) -> None:
        from framepack.hunyuan.generator import DTYPES

        self.sampling()  # validates the sampling fields
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def sampling(self):
        from baselines.repeated_i2v_diffusers import ImageToVideoOptions

        fields = {f.name for f in dataclasses.fields(ImageToVideoOptions)}
        return ImageToVideoOptions(**{k: v for k, v in dataclasses.asdict(self).items() if k in fields})


def _load_i2v(weights: str, params: dict[str, Any]) -> Any:
    from baselines.repeated_i2v_diffusers import load_repeated_i2v_diffusers
    from framepack.hunyuan.generator import DTYPES

    options = HunyuanI2VRowOptions(**params)
    return load_repeated_i2v_diffusers(weights, options.sampling(), device=options.device,
                                       dtype=DTYPES[options.dtype] if options.dtype else None)


def _i2v_specs(_options) -> tuple:
    from baselines.repeated_i2v_diffusers import i2v_component_specs

    return i2v_component_specs()


HUNYUAN_I2V = register_full_scale(FullScaleModel(
    kind="hunyuan_i2v", options=lambda: HunyuanI2VRowOptions, specs=_i2v_specs, title="HunyuanVideo-I2V weights",
    load=_load_i2v, display=lambda options: "repeated_i2v (HunyuanVideo-I2V)",
    description="repeated image-to-video on HunyuanVideo-I2V from a local weights folder (full scale)",
))
