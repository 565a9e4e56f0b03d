"""The local folder layout of the full-scale FramePack weights, and the check that names what is missing.

The folder is diffusers' pipeline layout: one subfolder per component. The released FramePack
transformer comes from one model repository, the HunyuanVideo VAE / text encoders / tokenizers /
scheduler from another, and the SigLIP image encoder from a third; a user downloads each
subfolder into place (nothing is downloaded at run time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HUNYUAN_REPO = "hunyuanvideo-community/HunyuanVideo"
REDUX_REPO = "lllyasviel/flux_redux_bfl"
TRANSFORMER_REPOS = {
    "inverted_anti_drifting": "lllyasviel/FramePackI2V_HY",
    "vanilla": "lllyasviel/FramePack_F1_I2V_HY_20250503",
}


@dataclass(frozen=True)
class ComponentSpec:
    """One pipeline component: its subfolder, the files it needs and where they come from.

    `weights` lists alternatives (a single weights file, a sharded index, or for a tokenizer its
    vocabulary files joined by "+"); one of them must be present. `files` must all be present.
    """

    name: str
    files: tuple[str, ...]
    weights: tuple[str, ...]
    source: str  # model repository (and its subfolder) to download from

    def missing(self, folder: Path) -> list[str]:
        """Paths (relative to `folder`) this component lacks; a weights entry lists the alternatives."""
        return [path for path, present in self.requirements(folder) if not present]

    def requirements(self, folder: Path) -> list[tuple[str, bool]]:
        """(path relative to `folder`, present?) of every file this component needs; for weights, the
        alternative found (and its shards), or all alternatives joined by " or " when none is."""
        sub = folder / self.name
        prefix = "" if self.name == "." else f"{self.name}/"  # "." : a file at the folder's root
        needed = [(f"{prefix}{name}", (sub / name).is_file()) for name in self.files]
        if self.weights:
            present = [name for name in self.weights if all((sub / part).is_file() for part in name.split("+"))]
            if not present:
                needed.append((" or ".join(f"{prefix}{name}" for name in self.weights), False))
            else:
                needed.append((f"{prefix}{present[0]}", True))
                needed.extend((f"{prefix}{shard}", False) for shard in _missing_shards(sub / present[0]))
        return needed


MODEL_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
DIFFUSERS_WEIGHTS = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "diffusion_pytorch_model.bin",
)

_TOKENIZER_FILES = ("tokenizer.json", "vocab.json+merges.txt")


def component_specs(order: str = "inverted_anti_drifting", with_tokenizers: bool = True) -> tuple[ComponentSpec, ...]:
    """The components a full-scale FramePack folder needs.

    Args:
        order: "inverted_anti_drifting" (FramePackI2V_HY) or "vanilla" (the F1 model); decides
            which transformer repository the error message points to.
        with_tokenizers: False when text embeddings are supplied by the caller.
    """
    if order not in TRANSFORMER_REPOS:
        raise ValueError(f"order must be one of {sorted(TRANSFORMER_REPOS)}, got {order!r}")
    specs = [
        ComponentSpec("transformer", ("config.json",), DIFFUSERS_WEIGHTS, f"{TRANSFORMER_REPOS[order]} (repository root)"),
        ComponentSpec("vae", ("config.json",), DIFFUSERS_WEIGHTS, f"{HUNYUAN_REPO}, subfolder vae/"),
        ComponentSpec("scheduler", ("scheduler_config.json",), (), f"{HUNYUAN_REPO}, subfolder scheduler/"),
        ComponentSpec("text_encoder", ("config.json",), MODEL_WEIGHTS, f"{HUNYUAN_REPO}, subfolder text_encoder/"),
        ComponentSpec("text_encoder_2", ("config.json",), MODEL_WEIGHTS, f"{HUNYUAN_REPO}, subfolder text_encoder_2/"),
        ComponentSpec("image_encoder", ("config.json",), MODEL_WEIGHTS, f"{REDUX_REPO}, subfolder image_encoder/"),
        ComponentSpec("feature_extractor", ("preprocessor_config.json",), (), f"{REDUX_REPO}, subfolder feature_extractor/"),
    ]
    if with_tokenizers:
        specs += [
            ComponentSpec("tokenizer", ("tokenizer_config.json",), _TOKENIZER_FILES, f"{HUNYUAN_REPO}, subfolder tokenizer/"),
            ComponentSpec(
                "tokenizer_2", ("tokenizer_config.json",), _TOKENIZER_FILES, f"{HUNYUAN_REPO}, subfolder tokenizer_2/"
            ),
        ]
    return tuple(specs)


class MissingWeightsError(FileNotFoundError):
    """The weights folder lacks files; the message lists each one, where it goes and where it comes from."""

    def __init__(self, folder: Path, missing: dict[str, list[str]], specs: tuple[ComponentSpec, ...],
                 title: str = "full-scale FramePack weights") -> None:
        self.folder = folder
        self.missing = missing
        sources = {spec.name: spec.source for spec in specs}
        lines = [f"{title} incomplete in {folder}:"]
        for name, paths in missing.items():
            lines.append(f"  {name}: download from {sources[name]}")
            lines.extend(f"    missing {folder / path}" for path in paths)
        lines.append("Place each component's files in its subfolder (diffusers layout); nothing is downloaded at run time.")
        super().__init__("\n".join(lines))


def check_weights_folder(
    folder: str | Path, order: str = "inverted_anti_drifting", with_tokenizers: bool = True
) -> Path:
    """Return `folder` as a Path if it holds every component; raise `MissingWeightsError` otherwise.

    Args:
        folder: the local weights folder (diffusers layout).
        order: sampling order, which selects the transformer checkpoint named in errors.
        with_tokenizers: whether the tokenizers are required (False when prompt embeddings are given).
    """
    return check_components(folder, component_specs(order, with_tokenizers))


def missing_components(folder: str | Path, specs: tuple[ComponentSpec, ...]) -> dict[str, list[str]]:
    """{component: [missing paths relative to folder]} for every incomplete component (empty: complete)."""
    folder = Path(folder).expanduser()
    missing = {spec.name: spec.missing(folder) for spec in specs}
    return {name: paths for name, paths in missing.items() if paths}


def check_components(folder: str | Path, specs: tuple[ComponentSpec, ...],
                     title: str = "full-scale FramePack weights") -> Path:
    """Return `folder` as a Path if it holds every component of `specs`; raise `MissingWeightsError`
    (listing every missing file and its source, under `title`) otherwise."""
    folder = Path(folder).expanduser()
    missing = missing_components(folder, specs)
    if missing:
        raise MissingWeightsError(folder, missing, specs, title)
    return folder


def _missing_shards(weights_file: Path) -> list[str]:
    if not weights_file.name.endswith(".index.json"):
        return []
    try:
        shards = sorted(set(json.loads(weights_file.read_text())["weight_map"].values()))
    except (OSError, ValueError, KeyError) as error:
        return [f"{weights_file.name} (unreadable: {error})"]
    return [shard for shard in shards if not (weights_file.parent / shard).is_file()]
