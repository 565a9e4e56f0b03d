import pytest

from bench.benchmarks.motion_words import with_direction
from bench.world import test_split


def test_the_motion_phrase_is_replaced_and_nothing_else():
    prompt = ("a green circle with a close-set, slit-eyed, frowning face bobs up and down while drifting left "
              "over a olive-to-slate gradient, while a small blue diamond floats behind it")
    assert with_direction(prompt, "up") == (
        "a green circle with a close-set, slit-eyed, frowning face drifts up over a olive-to-slate gradient, "
        "while a small blue diamond floats behind it")


def test_every_i2v_test_prompt_has_a_motion_phrase():
    for item in test_split("i2v"):
        assert " drifts right over " in with_direction(item.prompt, "right")


def test_a_prompt_without_motion_is_an_error():
    with pytest.raises(ValueError, match="no motion phrase"):
        with_direction("a red circle over a grey gradient", "left")


def test_motion_words_runs_on_validation_items_and_records_the_split(tmp_path):
    import json

    from bench.benchmarks.motion_words import main

    out = tmp_path / "words.json"
    assert main(["--rows", "fp_vanilla", "--items", "1", "--split", "validation", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["split"] == "validation" and set(report["rows"]) == {"fp_vanilla"}
    assert report["rows"]["fp_vanilla"]["displacement_px"] >= 0
