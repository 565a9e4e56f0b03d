"""Packing schedules in the paper's notation.

A schedule lays out, left to right in time, what the model sees around the section it generates:

    td_f16k4f4k2f1k1_g9            vanilla: 16 frames at k4, 4 at k2, 1 at k1, then 9 generated
    td_f16k4f4k2f1k1_g9+D          the same with discrete (codebook-quantised) history
    td_f16k4f4k2f1k1_g9_x_f1k1     anti-drifting: a gap, then a planned endpoint frame at k1
    f1k1_x_g9_f1k1f2k2f16k4_td     inverted anti-drifting: the start frame, a gap, the section, history

Pieces are separated by `_`: `fN<kernel>` groups (a run of groups is written without `_`), `gN`
(frames generated per section), `x` (a gap: any number of frames, no tokens, only RoPE distance),
`td` / `ta` / `tc` (the tail: frames beyond the last group are deleted / one token each / pooled into
one token). A trailing `+D` switches on discrete history.

The variants of the paper's Figure 1 are all expressible:

    typical geometric progression   td_f16k4f2k2f1k1_g9
    duplicated levels               td_f16k4f16k4f2k2f2k2f1k1_g9      (each level twice)
    temporal kernels                td_f8k4h2w2f2k2h2w2f1k1_g9        (several frames per token)
    important start                 f1k1_td_f16k4f2k2f1k1_g9          (the first frame keeps full detail)
    symmetric progression           td_f16k4f2k2f1k1_g9_f1k1f2k2f16k4_td  (both sides equally important)

How history frames fill the pieces (`Schedule.assign`)
-----------------------------------------------------
Each side of the generated block is read outward from it: first a run of groups (the *near* run),
then optionally a gap or a tail followed by further runs (*far* runs). Given the frames available on a
side, nearest first:

1. runs beyond the side's first gap are *anchors* (a start frame, planned endpoints): they take the
   farthest frames, outermost group first;
2. the near run takes the nearest frames, its innermost group first;
3. runs beyond a tail (but before any gap) take the farthest of the frames left (e.g. the start frame
   in the important-start layout);
4. what is left, between the near run and the far runs, belongs to the first gap or tail.

Inside a group, frames are kept in time order; a partly filled group is replicate-padded by the packer.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from framepack.kernels import KERNEL_LEVELS, Kernel, NotationError, parse_kernel_at, parse_number_at

TAIL_MODES = ("td", "ta", "tc")
FORMS = ("vanilla", "anti_drifting", "inverted_anti_drifting", "custom")


@dataclass(frozen=True)
class Group:
    """`frames` history frames, each packed with `kernel`."""

    frames: int
    kernel: Kernel

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"a group needs at least one frame, got {self.frames}")

    def __str__(self) -> str:
        return f"f{self.frames}{self.kernel}"

    def token_count(self, filled_frames: int, latent_hw: tuple[int, int]) -> int:
        """Tokens for `filled_frames` (<= frames) real frames, replicate-padded to whole kernels."""
        if filled_frames <= 0:
            return 0
        height, width = latent_hw
        return (
            math.ceil(filled_frames / self.kernel.t)
            * math.ceil(height / self.kernel.h)
            * math.ceil(width / self.kernel.w)
        )


@dataclass(frozen=True)
class Tail:
    """What happens to history frames beyond the last group: `td` delete, `ta` one token per frame,
    `tc` one token for all of them."""

    mode: str

    def __post_init__(self) -> None:
        if self.mode not in TAIL_MODES:
            raise ValueError(f"unknown tail mode {self.mode!r}; expected one of {TAIL_MODES}")

    def __str__(self) -> str:
        return self.mode

    def token_count(self, filled_frames: int) -> int:
        """td: 0; ta: one token per tail frame; tc: one token if there is any tail frame."""
        if filled_frames <= 0 or self.mode == "td":
            return 0
        return filled_frames if self.mode == "ta" else 1


@dataclass(frozen=True)
class Gap:
    """Any number of frames that get no tokens (they only put RoPE distance between neighbours)."""

    def __str__(self) -> str:
        return "x"


@dataclass(frozen=True)
class Generated:
    """The section being generated: `frames` latent frames at k1."""

    frames: int

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"a section needs at least one generated frame, got {self.frames}")

    def __str__(self) -> str:
        return f"g{self.frames}"


Piece = Group | Tail | Gap | Generated


@dataclass(frozen=True)
class _SideLayout:
    """One side of the generated block, as piece indices ordered outward from it."""

    near: tuple[int, ...]  # groups before the first gap/tail
    first_absorber: int | None  # index of the first gap or tail, which takes leftover frames
    tail_far: tuple[int, ...]  # groups after a tail but before any gap
    anchors: tuple[int, ...]  # groups beyond the first gap


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: `pieces` left to right in time, plus the discrete-history flag.

    Build one with `Schedule.parse(text)`; `str(schedule)` gives the text back unchanged.
    """

    pieces: tuple[Piece, ...]
    discrete_history: bool = False

    def __post_init__(self) -> None:
        problem = self._layout_problem()
        if problem is not None:
            raise ValueError(problem[1])

    def _layout_problem(self) -> tuple[int, str] | None:
        """(piece index, message) of the first layout rule the pieces break, or None."""
        generated = [i for i, piece in enumerate(self.pieces) if isinstance(piece, Generated)]
        if len(generated) != 1:
            where = generated[1] if len(generated) > 1 else len(self.pieces)
            return where, f"exactly one generated block gN per schedule, got {len(generated)}"
        tails = [i for i, piece in enumerate(self.pieces) if isinstance(piece, Tail)]
        for index in tails[1:]:
            if self.pieces[index] != self.pieces[tails[0]]:
                return index, f"the same tail mode as the first tail ({self.pieces[tails[0]]})"
        for side in (self._outward(-1), self._outward(+1)):
            for nearer, farther in zip(side, side[1:], strict=False):
                if isinstance(self.pieces[nearer], Gap | Tail) and isinstance(self.pieces[farther], Gap | Tail):
                    return farther, "groups between two gaps/tails"
            if side and isinstance(self.pieces[side[-1]], Gap):
                return side[-1], "groups beyond a gap (a planned frame); a gap cannot end a schedule"
        return None

    # -- notation ---------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Read the paper's notation, e.g. `td_f16k4f4k2f1k1_g9_x_f1k1+D`.

        Raises:
            NotationError: naming the character position and what was expected there.
        """
        if not isinstance(text, str):
            raise TypeError(f"schedule must be a string, got {type(text).__name__}")
        body_end = len(text)
        discrete = False
        plus = text.find("+")
        if plus >= 0:
            if text[plus:] != "+D":
                raise NotationError(text, plus, "'+D' (discrete history) at the very end")
            body_end, discrete = plus, True
        pieces: list[Piece] = []
        starts: list[int] = []  # character position of every piece, for error messages
        position = 0
        previous_was_run = False
        while True:
            piece_start = position
            if position >= body_end:
                raise NotationError(text, position, "a piece: fN<kernel>, gN, x, td, ta or tc")
            char = text[position]
            if char == "f":
                if previous_was_run:
                    raise NotationError(
                        text, position - 1, "no '_' inside a run of groups (write f16k4f2k2, not f16k4_f2k2)"
                    )
                while position < body_end and text[position] == "f":
                    starts.append(position)
                    frames, position = parse_number_at(text, position + 1, "frames in the group")
                    kernel, position = parse_kernel_at(text[:body_end], position)
                    pieces.append(Group(frames, kernel))
                previous_was_run = True
            else:
                previous_was_run = False
                starts.append(position)
                if char == "g":
                    frames, position = parse_number_at(text, position + 1, "frames generated per section")
                    pieces.append(Generated(frames))
                elif char == "x":
                    pieces.append(Gap())
                    position += 1
                elif char == "t":
                    mode = text[position : position + 2]
                    if mode not in TAIL_MODES:
                        raise NotationError(text, position + 1, "tail mode 'd', 'a' or 'c' (td, ta, tc)")
                    pieces.append(Tail(mode))
                    position += 2
                else:
                    raise NotationError(text, piece_start, "a piece: fN<kernel>, gN, x, td, ta or tc")
            if position == body_end:
                break
            if text[position] != "_":
                raise NotationError(text, position, "'_' between pieces" + (" or '+D'" if not discrete else ""))
            position += 1
        candidate = object.__new__(cls)
        object.__setattr__(candidate, "pieces", tuple(pieces))
        object.__setattr__(candidate, "discrete_history", discrete)
        problem = candidate._layout_problem()
        if problem is not None:
            index, expected = problem
            raise NotationError(text, starts[index] if index < len(starts) else body_end, expected)
        return cls(tuple(pieces), discrete)

    def __str__(self) -> str:
        parts: list[str] = []
        for piece in self.pieces:
            text = str(piece)
            if isinstance(piece, Group) and parts and parts[-1].startswith("f"):
                parts[-1] += text  # consecutive groups form one run, written without '_'
            else:
                parts.append(text)
        return "_".join(parts) + ("+D" if self.discrete_history else "")

    # -- structure --------------------------------------------------------------------------------

    @property
    def generated_index(self) -> int:
        return next(i for i, piece in enumerate(self.pieces) if isinstance(piece, Generated))

    @property
    def frames_per_section(self) -> int:
        """S: latent frames generated per section (the `gN`)."""
        return self.pieces[self.generated_index].frames  # type: ignore[union-attr]

    @property
    def tail_mode(self) -> str | None:
        """`td`, `ta`, `tc`, or None when the schedule has no tail."""
        return next((piece.mode for piece in self.pieces if isinstance(piece, Tail)), None)

    @property
    def groups(self) -> tuple[Group, ...]:
        return tuple(piece for piece in self.pieces if isinstance(piece, Group))

    @property
    def kernels(self) -> tuple[Kernel, ...]:
        """Distinct kernels the schedule uses, in order of first appearance."""
        seen: dict[Kernel, None] = {}
        for group in self.groups:
            seen.setdefault(group.kernel, None)
        return tuple(seen)

    @property
    def tail_kernel(self) -> Kernel:
        """The kernel tail tokens are embedded with: the schedule's most compressing one."""
        kernels = self.kernels or (Kernel.from_level(1),)
        return max(kernels, key=lambda kernel: kernel.compression)

    @property
    def form(self) -> str:
        """`vanilla`, `anti_drifting`, `inverted_anti_drifting` or `custom` (see module docstring)."""
        before, after = self._side(-1), self._side(+1)
        gaps_before = before.first_absorber is not None and isinstance(self.pieces[before.first_absorber], Gap)
        gaps_after = after.first_absorber is not None and isinstance(self.pieces[after.first_absorber], Gap)
        after_empty = not self._outward(+1)
        if after_empty and not gaps_before and before.near:
            return "vanilla"
        if before.near and not gaps_before and gaps_after and not after.near:
            return "anti_drifting"
        if gaps_before and not before.near and after.near and not gaps_after:
            return "inverted_anti_drifting"
        return "custom"

    def _outward(self, direction: int) -> tuple[int, ...]:
        """Piece indices on one side (-1 before, +1 after the generated block), nearest first."""
        centre = self.generated_index
        if direction < 0:
            return tuple(range(centre - 1, -1, -1))
        return tuple(range(centre + 1, len(self.pieces)))

    def _side(self, direction: int) -> _SideLayout:
        near: list[int] = []
        tail_far: list[int] = []
        anchors: list[int] = []
        first_absorber: int | None = None
        beyond_gap = False
        for index in self._outward(direction):
            piece = self.pieces[index]
            if isinstance(piece, Gap | Tail):
                if first_absorber is None:
                    first_absorber = index
                beyond_gap = beyond_gap or isinstance(piece, Gap)
            elif isinstance(piece, Group):
                if first_absorber is None:
                    near.append(index)
                elif beyond_gap:
                    anchors.append(index)
                else:
                    tail_far.append(index)
        return _SideLayout(tuple(near), first_absorber, tuple(tail_far), tuple(anchors))

    def side_has_history(self, direction: int) -> bool:
        """Whether one side (-1 before, +1 after the section) holds history: groups next to the
        section, or a tail. Anchor-only sides (a gap, then a planned frame) do not."""
        side = self._side(direction)
        if side.near:
            return True
        return side.first_absorber is not None and isinstance(self.pieces[side.first_absorber], Tail)

    def anchor_frames(self, direction: int) -> int:
        """Frames the anchor groups (beyond a gap) on one side hold: -1 before, +1 after."""
        return sum(self.pieces[i].frames for i in self._side(direction).anchors)  # type: ignore[union-attr]

    # -- filling and counting ---------------------------------------------------------------------

    def assign(self, before: Sequence[int], after: Sequence[int]) -> list[tuple[int, ...]]:
        """Distribute available frames over the pieces (rules in the module docstring).

        Args:
            before: frame indices available before the generated block, NEAREST FIRST (for the
                vanilla order: the latest history frame first, the start frame last).
            after: frame indices available after it, nearest first (inverted order's history,
                anti-drifting's endpoint).

        Returns:
            For every piece, the frame indices it holds in ascending time order: groups get at most
            their `frames`; a tail or gap gets the leftovers between the near run and the far runs;
            the generated block gets ().
        """
        result: list[tuple[int, ...]] = [() for _ in self.pieces]
        for direction, frames in ((-1, list(before)), (+1, list(after))):
            side = self._side(direction)
            low, high = 0, len(frames)  # frames[low:high] are still free
            # 1. anchors from the far end, outermost group first
            for index in reversed(side.anchors):
                take = min(self.pieces[index].frames, high - low)  # type: ignore[union-attr]
                result[index] = tuple(sorted(frames[high - take : high]))
                high -= take
            # 2. the near run from the near end, innermost group first
            for index in side.near:
                take = min(self.pieces[index].frames, high - low)  # type: ignore[union-attr]
                result[index] = tuple(sorted(frames[low : low + take]))
                low += take
            # 3. groups beyond a tail take the farthest frames left, outermost first
            for index in reversed(side.tail_far):
                take = min(self.pieces[index].frames, high - low)  # type: ignore[union-attr]
                result[index] = tuple(sorted(frames[high - take : high]))
                high -= take
            # 4. leftovers go to the first gap or tail
            if side.first_absorber is not None:
                result[side.first_absorber] = tuple(sorted(frames[low:high]))
        return result

    def fill_counts(self, history_frames: int) -> list[int]:
        """Frames per piece when `history_frames` history frames exist on each history side.

        A side holds history when it has groups next to the section or a tail; anchor groups beyond a
        gap are always full (they are given frames: the start image, planned endpoints). The generated
        block counts its S frames.
        """
        if history_frames < 0:
            raise ValueError(f"history_frames must be >= 0, got {history_frames}")
        sides = {}
        for direction in (-1, +1):
            available = (history_frames if self.side_has_history(direction) else 0) + self.anchor_frames(direction)
            sides[direction] = list(range(available))
        filled = self.assign(sides[-1], sides[+1])
        counts = [len(frames) for frames in filled]
        counts[self.generated_index] = self.frames_per_section
        return counts

    def token_count(self, history_frames: int, latent_hw: tuple[int, int]) -> int:
        """Total tokens (generated section + context) for a history length and latent size (h, w).

        Generated frames are k1 tokens; groups are replicate-padded to whole kernels; tails count
        per `Tail.token_count`. Equals the number of tokens `framepack.packing` produces.
        """
        height, width = _check_hw(latent_hw)
        total = 0
        for piece, filled in zip(self.pieces, self.fill_counts(history_frames), strict=True):
            if isinstance(piece, Group):
                total += piece.token_count(filled, (height, width))
            elif isinstance(piece, Tail):
                total += piece.token_count(filled)
            elif isinstance(piece, Generated):
                total += filled * tokens_per_k1_frame((height, width))
        return total

    def bound(self, latent_hw: tuple[int, int], lam: float = 2.0) -> float:
        """The paper's closed-form context limit (S + λ/(λ−1))·L_f, L_f = k1 tokens per frame.

        A schedule whose i-th most important frame gets at most L_f/λ^i tokens never exceeds it
        (exactly when the latent divides by its kernels).
        """
        if lam <= 1:
            raise ValueError(f"lam (λ) must be > 1, got {lam}")
        return (self.frames_per_section + lam / (lam - 1)) * tokens_per_k1_frame(_check_hw(latent_hw))

    @property
    def context_frames(self) -> int:
        """Frames the groups hold when every group is full."""
        return sum(group.frames for group in self.groups)


def tokens_per_k1_frame(latent_hw: tuple[int, int]) -> int:
    """L_f: k1 tokens of one latent frame (replicate-padded to even sizes)."""
    height, width = _check_hw(latent_hw)
    _, kh, kw = KERNEL_LEVELS[1]
    return math.ceil(height / kh) * math.ceil(width / kw)


def closed_form_tokens(history_frames: int, frames_per_section: int, latent_hw: tuple[int, int], lam: float) -> float:
    """S·L_f + L_f·(1 − λ^−T)/(1 − λ^−1): the paper's length function summed over T history frames."""
    frame_tokens = tokens_per_k1_frame(latent_hw)
    return frames_per_section * frame_tokens + frame_tokens * (1 - lam**-history_frames) / (1 - 1 / lam)


def geometric_schedule(levels: int, frames_per_section: int, tail: str = "td") -> Schedule:
    """A λ = 2 schedule: the i-th nearest frame is packed with a kernel 2^i times k1's size.

    Kernels alternate between doubling the width and the height (k1, k1h2w4, k1h4w4, k1h4w8, …),
    so on a latent that divides by them the i-th frame gets exactly L_f / 2^i tokens.
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    groups = []
    height, width = KERNEL_LEVELS[1][1:]
    for level in range(levels):
        groups.append(Group(1, Kernel(1, height, width, explicit=level > 0)))
        if level % 2 == 0:
            width *= 2
        else:
            height *= 2
    return Schedule((Tail(tail), *reversed(groups), Generated(frames_per_section)))


def random_schedule(rng: random.Random) -> Schedule:
    """A random valid schedule (for round-trip tests): runs, gaps, tails on both sides, kernels of
    both spellings, optional +D."""

    def random_run() -> list[Piece]:
        run: list[Piece] = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.6:
                kernel = Kernel.from_level(rng.choice(sorted(KERNEL_LEVELS)))
                if rng.random() < 0.2:
                    kernel = Kernel(*kernel.size, explicit=True)
            else:
                kernel = Kernel(rng.randint(1, 8), 2 * rng.randint(1, 8), 2 * rng.randint(1, 8), explicit=True)
            run.append(Group(rng.randint(1, 32), kernel))
        return run

    tail = Tail(rng.choice(TAIL_MODES))

    def random_side() -> list[Piece]:
        side: list[Piece] = []  # nearest first
        if rng.random() < 0.7:
            side += random_run()
        shape = rng.random()
        if shape < 0.3:
            side += [Gap(), *random_run()]
        elif shape < 0.5:
            side += [tail]
        elif shape < 0.65:
            side += [tail, *random_run()]
        return side

    before, after = random_side(), random_side()
    pieces = (*reversed(before), Generated(rng.randint(1, 33)), *after)
    return Schedule(pieces, discrete_history=rng.random() < 0.3)


def _check_hw(latent_hw: tuple[int, int]) -> tuple[int, int]:
    if len(latent_hw) != 2 or any(not isinstance(v, int) or v < 1 for v in latent_hw):
        raise ValueError(f"latent_hw must be two positive integers (h, w), got {latent_hw!r}")
    return int(latent_hw[0]), int(latent_hw[1])
