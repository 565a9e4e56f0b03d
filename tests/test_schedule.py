import random

import pytest

from framepack.kernels import Kernel, NotationError
from framepack.schedule import (
    Gap,
    Generated,
    Group,
    Schedule,
    Tail,
    closed_form_tokens,
    geometric_schedule,
    random_schedule,
    tokens_per_k1_frame,
)

PAPER_EXAMPLES = {
    "td_f16k4f4k2f1k1_g9": "vanilla",
    "td_f16k4f4k2f1k1_g9+D": "vanilla",
    "td_f16k4f4k2f1k1_g9_x_f1k1": "anti_drifting",
    "f1k1_x_g9_f1k1f2k2f16k4_td": "inverted_anti_drifting",
    "td_f16k4f2k2f1k1_g9": "vanilla",
    "td_f16k4f2k2f1k1_g1": "vanilla",
    "td_f16k4f2k2f1k1_g4": "vanilla",
}

FIGURE_1_VARIANTS = {
    "geometric": "td_f16k4f2k2f1k1_g9",
    "duplicated_levels": "td_f16k4f16k4f2k2f2k2f1k1_g9",
    "temporal_kernels": "td_f8k4h2w2f2k2h2w2f1k1_g9",
    "important_start": "f1k1_td_f16k4f2k2f1k1_g9",
    "symmetric": "td_f16k4f2k2f1k1_g9_f1k1f2k2f16k4_td",
}


@pytest.mark.parametrize("text", [*PAPER_EXAMPLES, *FIGURE_1_VARIANTS.values()])
def test_paper_and_figure1_notation_round_trips_exactly(text):
    schedule = Schedule.parse(text)
    assert str(schedule) == text
    assert Schedule.parse(str(schedule)) == schedule


@pytest.mark.parametrize("text,form", PAPER_EXAMPLES.items())
def test_sampling_forms_are_recognised(text, form):
    assert Schedule.parse(text).form == form


def test_random_schedules_round_trip_both_ways():
    rng = random.Random(1234)
    for _ in range(500):
        schedule = random_schedule(rng)
        text = str(schedule)
        assert Schedule.parse(text) == schedule
        assert str(Schedule.parse(text)) == text


def test_vanilla_schedule_reads_into_expected_pieces():
    schedule = Schedule.parse("td_f16k4f4k2f1k1_g9+D")
    assert schedule.pieces == (
        Tail("td"),
        Group(16, Kernel.from_level(4)),
        Group(4, Kernel.from_level(2)),
        Group(1, Kernel.from_level(1)),
        Generated(9),
    )
    assert schedule.discrete_history and schedule.frames_per_section == 9 and schedule.tail_mode == "td"
    anti = Schedule.parse("td_f16k4f4k2f1k1_g9_x_f1k1")
    assert isinstance(anti.pieces[5], Gap)


def test_explicit_kernel_spelling_is_kept_but_compares_equal():
    explicit = Schedule.parse("td_f1k1h2w2_g9")
    named = Schedule.parse("td_f1k1_g9")
    assert explicit == named
    assert str(explicit) == "td_f1k1h2w2_g9" and str(named) == "td_f1k1_g9"
    assert Kernel.parse("k4h2w2").size == (4, 2, 2)
    assert Kernel.from_level(2).compression == 8 and Kernel.from_level(4).compression == 64


@pytest.mark.parametrize(
    "text,position,expected_fragment",
    [
        ("", 0, "a piece"),
        ("td_f16k3_g9", 7, "kernel level"),
        ("td_f16k4_f2k2_g9", 8, "no '_' inside a run"),
        ("td_f16k4f2k2f1k1g9", 16, "'_' between pieces"),
        ("g9+E", 2, "'+D'"),
        ("tq_g9", 1, "tail mode"),
        ("g09", 1, "leading zeros"),
        ("g9_x", 3, "beyond a gap"),
        ("td_f1k1h3w2_g9", 5, "multiples of k1"),
        ("td_f16k4_g9_g3", 12, "exactly one generated block"),
        ("td_f4k1h2_g9", 9, "'w'"),
    ],
)
def test_bad_notation_names_position_and_expectation(text, position, expected_fragment):
    with pytest.raises(NotationError) as info:
        Schedule.parse(text)
    assert info.value.position == position
    assert expected_fragment in info.value.expected
    assert f"character {position}" in str(info.value)


def test_geometric_schedule_token_count_equals_closed_form_and_never_exceeds_bound():
    latent = (16, 16)  # divides by every kernel of a 7-level λ=2 schedule
    schedule = geometric_schedule(levels=7, frames_per_section=9)
    bound = schedule.bound(latent, lam=2.0)
    counts = []
    for history in range(0, 30):
        count = schedule.token_count(history, latent)
        expected = closed_form_tokens(min(history, 7), 9, latent, lam=2.0)
        assert count == pytest.approx(expected)
        assert count < bound
        counts.append(count)
    assert counts == sorted(counts)  # more history never costs fewer tokens
    assert bound - counts[-1] == pytest.approx(bound - (9 + 2 - 2 ** -6) * tokens_per_k1_frame(latent))
    assert bound == (9 + 2) * 64


def test_paper_schedules_stay_within_lambda_2_bound_on_divisible_latents():
    for text in ["td_f16k4f4k2f1k1_g9", "td_f16k4f16k4f2k2f2k2f1k1_g9", "td_f16k4f2k2f1k1_g1"]:
        schedule = Schedule.parse(text)
        for history in (0, 1, 5, 19, 40, 1000):
            assert schedule.token_count(history, (16, 16)) <= schedule.bound((16, 16), lam=2.0)


def test_tail_token_counts():
    latent = (8, 8)
    base = Schedule.parse("td_f2k2f1k1_g1").token_count(3, latent)  # 3 history frames: no tail yet
    for mode, per_tail in (("td", lambda n: 0), ("ta", lambda n: n), ("tc", lambda n: 1 if n else 0)):
        schedule = Schedule.parse(f"{mode}_f2k2f1k1_g1")
        assert schedule.token_count(3, latent) == base
        for extra in (1, 2, 7):
            assert schedule.token_count(3 + extra, latent) == base + per_tail(extra)


def test_assign_fills_near_run_nearest_first_and_anchors_from_far_end():
    vanilla = Schedule.parse("td_f4k2f1k1_g2")
    history = list(range(9, -1, -1))  # frames 0..9 exist; nearest (9) first
    assert vanilla.assign(history, []) == [(0, 1, 2, 3, 4), (5, 6, 7, 8), (9,), ()]
    inverted = Schedule.parse("f1k1_x_g2_f1k1f2k2_td")
    # before: start frame 0 behind a gap (frames 1..4 unknown); after: generated future 7, 8, 9, 10
    filled = inverted.assign([0], [7, 8, 9, 10])
    assert filled == [(0,), (), (), (7,), (8, 9), (10,)]
    important_start = Schedule.parse("f1k1_td_f2k2f1k1_g2")
    assert important_start.assign(list(range(9, -1, -1)), []) == [(0,), (1, 2, 3, 4, 5, 6), (7, 8), (9,), ()]


def test_fill_counts_keep_anchors_full_without_history():
    anti = Schedule.parse("td_f16k4f4k2f1k1_g9_x_f1k1")
    assert anti.fill_counts(0) == [0, 0, 0, 0, 9, 0, 1]
    inverted = Schedule.parse("f1k1_x_g9_f1k1f2k2f16k4_td")
    assert inverted.fill_counts(3) == [1, 0, 9, 1, 2, 0, 0]


def test_figure_1_variants_are_distinct_schedules():
    parsed = {name: Schedule.parse(text) for name, text in FIGURE_1_VARIANTS.items()}
    assert len(set(parsed.values())) == len(parsed)
    assert parsed["temporal_kernels"].groups[0].kernel.size == (4, 2, 2)
    assert parsed["symmetric"].form == "custom"
    assert parsed["important_start"].fill_counts(40)[0] == 1


def test_schedule_cli_reports_counts_and_rejects_bad_notation(capsys):
    import json

    from bench.cli import main

    assert main(["schedule", "td_f16k4f4k2f1k1_g9", "--latent", "16", "16", "--history", "0", "19", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    schedule = Schedule.parse("td_f16k4f4k2f1k1_g9")
    assert report["token_counts"] == {"0": schedule.token_count(0, (16, 16)), "19": schedule.token_count(19, (16, 16))}
    assert report["bound"] == schedule.bound((16, 16)) and report["form"] == "vanilla"
    assert main(["schedule", "td_f16k4_f2k2_g9"]) == 2
    assert "character 8" in capsys.readouterr().err
