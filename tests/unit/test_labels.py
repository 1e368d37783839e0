"""Subject keys read as names: acronyms and languages keep capitals mid-sentence."""

import pytest

from services.labels import subject_label


@pytest.mark.parametrize(
    ("key", "start", "inside"),
    [
        ("computer_science", "Computer science", "computer science"),
        ("sat_prep", "SAT prep", "SAT prep"),
        ("act_prep", "ACT prep", "ACT prep"),
        ("english_writing", "English writing", "English writing"),
        ("french", "French", "French"),
        ("algebra", "Algebra", "algebra"),
        ("ap-us_history", "AP US history", "AP US history"),
    ],
)
def test_subject_keys_read_as_names(key: str, start: str, inside: str) -> None:
    assert subject_label(key) == start
    assert subject_label(key, capitalize=False) == inside


@pytest.mark.parametrize("key", ["", None, "_", "__"])
def test_an_empty_key_reads_as_a_dash(key: str | None) -> None:
    assert subject_label(key) == "–"
