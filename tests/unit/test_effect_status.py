"""The effectiveness status line: the data's date in the user's zone, what could not be
measured, and which types are not effects at all."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ml.effectiveness import SELECTION_BIAS
from viewmodels import intervention_effects
from viewmodels.intervention_effects import EffectivenessViewModel


def _vm(records: list[dict], as_of: str) -> EffectivenessViewModel:
    vm = EffectivenessViewModel(runner=None, service=None)  # type: ignore[arg-type]
    vm.as_of = as_of
    vm.set_records(records)
    return vm


def _record(itype: str, effect: float | None, n: int, caveat: str = "") -> dict:
    return {
        "intervention_type": itype,
        "effect": effect,
        "ci_low": None if effect is None else effect - 0.05,
        "ci_high": None if effect is None else effect + 0.05,
        "naive_effect": None,
        "n_treated": n,
        "n_control": None,
        "caveat": caveat,
        "caveat_text": "why" if caveat else "",
    }


def test_the_status_names_flagged_and_unmeasured_types_in_the_users_zone():
    vm = _vm(
        [
            _record("manager_coaching", -0.26, 82, caveat="selection_bias"),
            _record("recognition", 0.03, 180),
            _record("peer_mentoring", None, 3),
        ],
        "2026-11-20T18:00:00+00:00",
    )
    text = vm.status_text(ZoneInfo("America/New_York"))
    assert text.startswith("Data up to 2026-11-20 13:00 EST; 262 treated tutors compared.")
    assert "Not enough comparable data yet: peer mentoring." in text
    assert "Selection bias: manager coaching. These figures are not effects" in text
    assert vm.biased() == ["manager coaching"]
    assert vm.chart_data()["biased"] == [False, True]  # largest effect first


def test_nothing_flagged_says_nothing_about_bias_and_a_naive_as_of_is_utc():
    vm = _vm([_record("recognition", 0.03, 180)], "2026-07-01T12:00:00")
    text = vm.status_text(ZoneInfo("Europe/Berlin"))
    assert text == "Data up to 2026-07-01 14:00 CEST; 180 treated tutors compared."


def test_the_flag_the_view_model_reads_is_the_one_the_measurement_writes():
    assert intervention_effects.SELECTION_BIAS == SELECTION_BIAS
