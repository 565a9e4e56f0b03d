"""`--set key=value` overrides applied to a grid document before it is parsed.

Keys are dotted paths; list items are addressed by their index (`rows.0.checkpoint`) and a
value is read as YAML (`seeds=[0,1]`, `prompts.count=2`, `metrics.names=[clarity]`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, MutableMapping
from typing import Any

import yaml

from bench.grid.errors import GridError


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.0=value` into (["a", "b", "0"], parsed value).

    Raises:
        GridError: no `=`, an empty key part, or a value that is not valid YAML.
    """
    if "=" not in text:
        raise GridError("--set", f"expected key=value, got {text!r}")
    key, _, raw_value = text.partition("=")
    parts = key.strip().split(".")
    if not key.strip() or any(not part for part in parts):
        raise GridError("--set", f"expected a dotted key such as prompts.count, got {key!r}")
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except yaml.YAMLError:
        raise GridError(key, f"--set value {raw_value!r} is not valid YAML") from None
    return parts, value


def apply_overrides(document: Any, overrides: Iterable[str]) -> Any:
    """Return a copy of `document` with every `key=value` override applied in order.

    Args:
        document: the grid as loaded from YAML (a mapping).
        overrides: strings such as "prompts.count=2" or "rows.1.checkpoint=path".

    Raises:
        GridError: a path through a missing list index, or through a value that is not a
            mapping or list. Setting a key the grid does not know is caught later, by parsing.
    """
    result = copy.deepcopy(document) if document is not None else {}
    for text in overrides:
        parts, value = parse_override(text)
        target = result
        for depth, part in enumerate(parts):
            path = ".".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if isinstance(target, list):
                if not part.lstrip("-").isdigit():
                    raise GridError(path, f"{'.'.join(parts[:depth]) or 'grid'} is a list; expected an index, got {part!r}")
                index = int(part)
                if not -len(target) <= index < len(target):
                    raise GridError(path, f"index {index} is out of range (the list has {len(target)} items)")
                if last:
                    target[index] = value
                else:
                    target = target[index]
            elif isinstance(target, MutableMapping):
                if last:
                    target[part] = value
                else:
                    if target.get(part) is None:
                        target[part] = {}
                    target = target[part]
            else:
                raise GridError(path, f"cannot set inside {target!r} (not a mapping or a list)")
    return result
