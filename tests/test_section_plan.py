import itertools

import pytest

from framepack.schedule import Schedule
from framepack.section_plan import (
    ORDERS,
    default_endpoints,
    last_uses,
    plan_sections,
    released_inverted_paddings,
)

VANILLA = "td_f16k4f4k2f1k1_g{g}"
ANTI = "td_f16k4f4k2f1k1_g{g}_x_f1k1"
INVERTED = "f1k1_x_g{g}_f1k1f2k2f16k4_td"
SCHEDULE_FOR_ORDER = {
    "vanilla": VANILLA,
    "anti_drifting": ANTI,
    "inverted_anti_drifting": INVERTED,
    "multiple_endpoints": ANTI,
}


def plans_for(order, g, sections, **kwargs):
    if order == "multiple_endpoints" and "endpoints" not in kwargs:
        kwargs["endpoints"] = default_endpoints(sections, min(3, sections))
    return plan_sections(SCHEDULE_FOR_ORDER[order].format(g=g), sections, order, **kwargs)


CASES = list(itertools.product(ORDERS, (1, 4, 9), (1, 2, 5, 8), (False, True), ("zeros", "drop")))


@pytest.mark.parametrize(("order", "g", "sections", "has_start", "missing"), CASES)
def test_every_frame_is_generated_exactly_once(order, g, sections, has_start, missing):
    plans = plans_for(order, g, sections, has_start=has_start, missing=missing)
    generated = [frame for plan in plans for frame in plan.generated]
    first = 1 if has_start else 0
    assert sorted(generated) == list(range(first, first + g * sections))
    assert sorted(plan.section for plan in plans) == list(range(sections))


@pytest.mark.parametrize(("order", "g", "sections", "has_start", "missing"), CASES)
def test_context_reads_only_given_or_already_generated_frames(order, g, sections, has_start, missing):
    plans = plans_for(order, g, sections, has_start=has_start, has_end=True, missing=missing)
    num_frames = (1 if has_start else 0) + g * sections
    known = {num_frames} | ({0} if has_start else set())
    for plan in plans:
        assert plan.referenced_frames <= known, f"section {plan.section} reads frames not yet made"
        assert not set(plan.generated) & known
        known |= set(plan.generated)


def test_vanilla_context_is_the_preceding_frames_newest_nearest():
    plans = plan_sections("td_f4k2f2k1_g3", 4, "vanilla", has_start=True, missing="drop")
    last = plans[-1]  # generates 10, 11, 12; frames 0..9 exist
    assert last.generated == (10, 11, 12)
    by_kernel = {str(piece.kernel): piece.frames for piece in last.context}
    assert by_kernel == {"k1": (8, 9), "k2": (4, 5, 6, 7)}  # frames 0..3 fall in the deleted tail


def test_drop_mode_shrinks_groups_and_zeros_mode_keeps_them_full():
    schedule = Schedule.parse("td_f16k4f2k2f1k1_g4")
    dropped = plan_sections(schedule, 3, "vanilla", has_start=True, missing="drop")
    assert [sum(len(p.frames) for p in plan.context) for plan in dropped] == [1, 5, 9]
    assert all(None not in p.frames for plan in dropped for p in plan.context)
    zeros = plan_sections(schedule, 3, "vanilla", has_start=True, missing="zeros")
    for plan in zeros:
        assert [len(p.frames) for p in plan.context] == [16, 2, 1]
    first = zeros[0].context
    assert first[2].frames == (0,) and first[1].frames == (None, None) and set(first[0].frames) == {None}


def test_positions_increase_left_to_right_in_the_schedule_layout():
    for text, order in ((VANILLA.format(g=4), "vanilla"), (INVERTED.format(g=4), "inverted_anti_drifting")):
        schedule = Schedule.parse(text)
        for plan in plan_sections(schedule, 6, order, has_start=True):
            layout = sorted(plan.context, key=lambda piece: piece.piece)
            sequence = [p for piece in layout if piece.piece < schedule.generated_index for p in piece.positions]
            sequence += list(plan.generated_positions)
            sequence += [p for piece in layout if piece.piece > schedule.generated_index for p in piece.positions]
            assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
            assert min(sequence) == 0


def released_inverted_loop(num_sections, window, end_image=False):
    """The released demo_gradio.py loop's index arithmetic, written out independently: per
    generation step, (generated frame ids, generated RoPE indices, [(frame ids, RoPE indices)] for
    start, 1x, 2x, 4x). Frame ids are true latent times; None marks the zero history. With
    `end_image`, diffusers' last_image replaces the first step's 1x frame (id 1 + window·S)."""
    if num_sections > 4:
        paddings = [3] + [2] * (num_sections - 3) + [1, 0]
    else:
        paddings = list(reversed(range(num_sections)))
    history = [None] * (1 + 2 + 16)  # starts as zeros; new sections are prepended
    next_last = window * num_sections  # true time of the last frame not yet generated
    steps = []
    for padding in paddings:
        sizes = [1, padding * window, window, 1, 2, 16]
        indices = list(range(sum(sizes)))
        cuts = list(itertools.accumulate(sizes))
        pre, _, latent, post, two, four = (indices[a:b] for a, b in zip([0, *cuts], cuts, strict=False))
        ids = list(range(next_last - window + 1, next_last + 1))
        one_x = history[:1]
        if end_image and not steps:
            one_x = [1 + window * num_sections]
        steps.append(
            (tuple(ids), tuple(latent),
             [((0,), tuple(pre)), (tuple(one_x), tuple(post)),
              (tuple(history[1:3]), tuple(two)), (tuple(history[3:19]), tuple(four))])
        )
        history = ids + history
        next_last -= window
    return steps


@pytest.mark.parametrize("sections", range(1, 9))
@pytest.mark.parametrize("window", [9, 4])
@pytest.mark.parametrize("end_image", [False, True])
def test_inverted_plan_equals_the_released_loop(sections, window, end_image):
    plans = plan_sections(
        INVERTED.format(g=window), sections, "inverted_anti_drifting", has_start=True, has_end=end_image
    )
    expected = released_inverted_loop(sections, window, end_image)
    assert len(plans) == len(expected)
    for plan, (ids, latent, groups) in zip(plans, expected, strict=True):
        assert plan.generated == ids
        assert plan.generated_positions == latent
        assert [(piece.frames, piece.positions) for piece in plan.context] == groups
        assert [str(piece.kernel) for piece in plan.context] == ["k1", "k1", "k2", "k4"]
        assert plan.context[0].role == "start"


def test_released_paddings():
    assert released_inverted_paddings(4) == [3, 2, 1, 0]
    assert released_inverted_paddings(6) == [3, 2, 2, 2, 1, 0]


def test_inverted_first_section_sees_the_end_image_in_its_k1_slot():
    plans = plan_sections(INVERTED.format(g=9), 3, "inverted_anti_drifting", has_start=True, has_end=True)
    end = 1 + 27
    post = plans[0].context[1]
    assert post.frames == (end,) and post.role == "end" and post.positions == (1 + 18 + 9,)
    assert plans[0].context[2].frames == (None, None)
    assert all(end not in plan.referenced_frames for plan in plans[1:])


def test_anti_drifting_makes_start_and_end_first_then_fills_seeing_both_sides():
    plans = plan_sections(ANTI.format(g=3), 5, "anti_drifting", has_start=True)
    assert [(p.iteration, p.section) for p in plans] == [(0, 0), (0, 4), (1, 1), (2, 2), (3, 3)]
    last_frame = 15
    for plan in plans[2:]:
        endpoint = plan.context[-1]
        assert endpoint.frames == (last_frame,)
        assert plan.generated[0] - 1 in plan.referenced_frames  # the frame just before it
        assert endpoint.positions[0] - plan.generated_positions[-1] == last_frame - plan.generated[-1]


def test_multiple_endpoints_fill_each_segment_toward_its_own_endpoint():
    ends = default_endpoints(6, 3)
    assert ends == (1, 3, 5)
    plans = plan_sections(ANTI.format(g=2), 6, "multiple_endpoints", endpoints=ends)
    assert [(p.iteration, p.section) for p in plans[:4]] == [(0, 0), (0, 1), (0, 3), (0, 5)]
    by_section = {p.section: p for p in plans}
    assert [by_section[s].prompt_index for s in range(6)] == [0, 0, 1, 1, 2, 2]
    # section 2 fills between endpoint 1 and endpoint 3: its endpoint slot holds section 3's last frame
    assert by_section[2].context[-1].frames == (7,)
    assert max(by_section[2].referenced_frames) == 7
    assert by_section[4].context[-1].frames == (11,)


def test_frames_per_section_and_tails_are_honoured():
    plans = plan_sections("tc_f2k1_g1", 5, "vanilla", missing="drop")
    assert [p.generated for p in plans] == [(i,) for i in range(5)]
    tail = [piece for piece in plans[-1].context if piece.role == "tail"]
    assert len(tail) == 1 and tail[0].frames == (0, 1) and tail[0].tail_mode == "tc"


def test_last_uses_point_at_the_final_reader():
    plans = plan_sections("td_f2k1_g1", 5, "vanilla", missing="drop")
    assert last_uses(plans) == {0: 2, 1: 3, 2: 4, 3: 4}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="order"):
        plan_sections(VANILLA.format(g=1), 2, "sideways")
    with pytest.raises(ValueError, match="num_sections"):
        plan_sections(VANILLA.format(g=1), 0, "vanilla")
    with pytest.raises(ValueError, match="endpoints"):
        plan_sections(ANTI.format(g=1), 3, "anti_drifting", endpoints=[7])
    with pytest.raises(ValueError, match="endpoints"):
        plan_sections(ANTI.format(g=1), 3, "multiple_endpoints")
    with pytest.raises(ValueError, match="missing"):
        plan_sections(VANILLA.format(g=1), 2, "vanilla", missing="pad")
