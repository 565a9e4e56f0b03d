"""Patchify kernels: how many latent frames and pixels one context token covers.

A kernel is a (t, h, w) box over the latent video. The paper names four levels,
`k1` = (1, 2, 2), `k2` = (2, 4, 4), `k4` = (4, 8, 8) and `k8` = (8, 16, 16), and any other box
can be spelled explicitly as `k<t>h<h>w<w>`, e.g. `k4h2w2` (a temporal kernel: four frames in one
token at full spatial detail) or `k1h8w8`. The spelling a kernel was written in is remembered so a
schedule prints back exactly as it was parsed; it does not take part in equality.

Every kernel's spatial size is a multiple of k1's (2, 2): compressed tokens carry the average of the
k1 RoPE phases they cover, which needs whole k1 cells (see `framepack.rope`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KERNEL_LEVELS: dict[int, tuple[int, int, int]] = {1: (1, 2, 2), 2: (2, 4, 4), 4: (4, 8, 8), 8: (8, 16, 16)}


class NotationError(ValueError):
    """A string in the paper's schedule notation could not be read.

    `position` is the 0-based character index of the problem in `text`.
    """

    def __init__(self, text: str, position: int, expected: str) -> None:
        self.text = text
        self.position = position
        self.expected = expected
        found = repr(text[position]) if position < len(text) else "end of text"
        pointer = " " * position + "^"
        super().__init__(
            f"bad schedule {text!r} at character {position}: expected {expected}, found {found}\n"
            f"  {text}\n  {pointer}"
        )


@dataclass(frozen=True)
class Kernel:
    """A patchify box (t, h, w) in latent frames and latent pixels; kernel = stride.

    Args:
        t: latent frames per token (>= 1).
        h, w: latent pixels per token along height / width (positive multiples of 2, k1's size).
        explicit: print as `k<t>h<h>w<w>` even when the box is one of the named levels.
    """

    t: int
    h: int
    w: int
    explicit: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("t", "h", "w"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"kernel {name} must be a positive integer, got {value!r}")
        base_t, base_h, base_w = KERNEL_LEVELS[1]
        if self.h % base_h or self.w % base_w:
            raise ValueError(
                f"kernel (t={self.t}, h={self.h}, w={self.w}): h and w must be multiples of k1's "
                f"({base_h}, {base_w}) so its RoPE phase is a mean over whole k1 cells"
            )

    @classmethod
    def from_level(cls, level: int) -> Kernel:
        """The named level `k<level>` (1, 2, 4 or 8)."""
        if level not in KERNEL_LEVELS:
            raise ValueError(f"unknown kernel level k{level}; expected one of {sorted(KERNEL_LEVELS)}")
        return cls(*KERNEL_LEVELS[level])

    @classmethod
    def parse(cls, text: str) -> Kernel:
        """Read `k2` or `k1h2w2`-style text; raises `NotationError` naming the bad position."""
        kernel, end = parse_kernel_at(text, 0)
        if end != len(text):
            raise NotationError(text, end, "end of kernel")
        return kernel

    @property
    def size(self) -> tuple[int, int, int]:
        return (self.t, self.h, self.w)

    @property
    def level(self) -> int | None:
        """The named level with this box, or None."""
        for level, size in KERNEL_LEVELS.items():
            if size == self.size:
                return level
        return None

    @property
    def ratio(self) -> tuple[int, int, int]:
        """How many k1 cells this kernel covers along (t, h, w)."""
        base_t, base_h, base_w = KERNEL_LEVELS[1]
        return (self.t // base_t, self.h // base_h, self.w // base_w)

    @property
    def compression(self) -> int:
        """Context shrink factor relative to k1: k1 tokens covered by one token (k2 = 8, k4 = 64)."""
        rt, rh, rw = self.ratio
        return rt * rh * rw

    @property
    def key(self) -> str:
        """A stable name for module dictionaries and files, e.g. `t2h4w4`."""
        return f"t{self.t}h{self.h}w{self.w}"

    def __str__(self) -> str:
        level = self.level
        if level is not None and not self.explicit:
            return f"k{level}"
        return f"k{self.t}h{self.h}w{self.w}"


K1 = Kernel.from_level(1)


def parse_number_at(text: str, position: int, what: str) -> tuple[int, int]:
    """Read a positive decimal number without leading zeros at `position`; returns (value, end)."""
    end = position
    while end < len(text) and text[end].isdigit():
        end += 1
    if end == position:
        raise NotationError(text, position, f"a number ({what})")
    if text[position] == "0":
        raise NotationError(text, position, f"a positive number without leading zeros ({what})")
    return int(text[position:end]), end


def parse_kernel_at(text: str, position: int) -> tuple[Kernel, int]:
    """Read a kernel (`k2` or `k1h2w2`) starting at `position`; returns (kernel, end)."""
    if position >= len(text) or text[position] != "k":
        raise NotationError(text, position, "'k' starting a kernel (k1, k2, k4, k8 or k<t>h<h>w<w>)")
    first, end = parse_number_at(text, position + 1, "kernel level or frames per token")
    if end < len(text) and text[end] == "h":
        height, end = parse_number_at(text, end + 1, "kernel height")
        if end >= len(text) or text[end] != "w":
            raise NotationError(text, end, "'w' and the kernel width")
        width_at = end + 1
        width, end = parse_number_at(text, width_at, "kernel width")
        try:
            return Kernel(first, height, width, explicit=True), end
        except ValueError as error:
            raise NotationError(text, position, f"a valid kernel ({error})") from None
    if first not in KERNEL_LEVELS:
        raise NotationError(
            text, position + 1, f"a kernel level in {sorted(KERNEL_LEVELS)} or an explicit k<t>h<h>w<w>"
        )
    return Kernel.from_level(first), end
