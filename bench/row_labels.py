"""Plain display names for table rows, shown beside the paper's notation.

A row is named in the paper's notation (`f1k1_x_g9_f1k1f2k2f16k4_td`, `td_f16k4f4k2f1k1_g9+D`,
`noisy_history (sigma_test=0.1)`), which a reader without the paper open cannot decode. Tables and
figures show "inverted anti-drifting — f1k1_x_g9_f1k1f2k2f16k4_td"; the stored results keep the
notation alone, since ratings and notebooks join on it.
"""

from __future__ import annotations

from framepack.kernels import NotationError
from framepack.schedule import Schedule

FORM_NAMES = {
    "vanilla": "vanilla",
    "anti_drifting": "anti-drifting",
    "inverted_anti_drifting": "inverted anti-drifting",
    "multiple_endpoints": "multiple endpoints",
    "custom": "custom schedule",
}
TAIL_NAMES = {"ta": "tail kept", "tc": "tail pooled"}
REFERENCE_FRAMES_PER_SECTION = 9  # the released models' g9; other section lengths are named


def plain_name(row: str) -> str:
    """What a row is, in words: "vanilla + discrete history", "noisy history", ...; the row itself
    when it is neither a schedule nor a generator kind's name."""
    notation, _, suffix = row.partition(" (")
    try:
        schedule = Schedule.parse(notation)
    except (NotationError, ValueError):
        head = notation.strip()
        return head.replace("_", " ") if "_" in head and " " not in head else row
    words = [FORM_NAMES.get(schedule.form, schedule.form)]
    if schedule.frames_per_section != REFERENCE_FRAMES_PER_SECTION:
        words.append(f"{schedule.frames_per_section} frames a section")
    if schedule.tail_mode in TAIL_NAMES:
        words.append(TAIL_NAMES[schedule.tail_mode])
    name = ", ".join(words)
    if schedule.discrete_history:
        name += " + discrete history"
    order = suffix.rstrip(")")
    if order:
        name += f", sampled {FORM_NAMES.get(order, order.replace('_', ' '))}"
    return name


def row_label(row: str, code: tuple[str, str] = ("", "")) -> str:
    """"plain name — notation"; `code` wraps the notation (e.g. markdown backticks)."""
    plain = plain_name(row)
    if plain == row:
        return f"{code[0]}{row}{code[1]}"
    return f"{plain} — {code[0]}{row}{code[1]}"
