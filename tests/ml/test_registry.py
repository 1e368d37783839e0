"""The model registry: versions, the best usable one, fallbacks with warnings, rollback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.registry import ModelRegistry, RegistryError


class TinyModel:
    """A model with the registry's protocol: KIND, save(directory) -> files, load."""

    KIND = "tiny"

    def __init__(self, weight: float) -> None:
        self.weight = weight
        self.features = ["a", "b"]

    def save(self, directory: Path) -> list[str]:
        (Path(directory) / "tiny.json").write_text(json.dumps({"weight": self.weight}))
        return ["tiny.json"]

    @classmethod
    def load(cls, directory: Path) -> TinyModel:
        return cls(json.loads((Path(directory) / "tiny.json").read_text())["weight"])


def _meta(auc: float, **extra) -> dict:
    return {
        "metrics": {"auc": auc, "brier": 0.1},
        "key_metric": "auc",
        "training_window": {"start": "2026-06-01", "end": "2026-10-20"},
        "trained_at": "2026-11-20T02:00:00+00:00",
        **extra,
    }


@pytest.fixture
def reg(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models", loaders={"tiny": TinyModel.load})


def test_save_writes_a_version_folder_with_metadata(reg):
    v = reg.save("tutor_churn", TinyModel(1.0), _meta(0.80))
    assert v.version == 1 and v.path.name == "v0001"
    md = json.loads((v.path / "metadata.json").read_text())
    assert md["name"] == "tutor_churn" and md["kind"] == "tiny"
    assert md["features"] == ["a", "b"]
    assert md["training_window"] == {"start": "2026-06-01", "end": "2026-10-20"}
    assert md["metrics"]["auc"] == 0.80
    assert set(md["library_versions"]) >= {"python", "numpy", "pandas", "xgboost", "sklearn"}
    assert list(md["files"]) == ["tiny.json"] and len(md["files"]["tiny.json"]) == 64
    assert reg.save("tutor_churn", TinyModel(2.0), _meta(0.81)).version == 2
    assert [x.version for x in reg.versions("tutor_churn")] == [1, 2]
    assert not any(p.name.startswith(".") for p in v.path.parent.iterdir())
    assert reg.names() == ["tutor_churn"]


def test_newest_not_worse_version_is_loaded(reg):
    reg.save("m", TinyModel(1.0), _meta(0.80))
    reg.save("m", TinyModel(2.0), _meta(0.80))  # equal is not worse
    got = reg.load_best("m")
    assert got.version.version == 2 and got.model.weight == 2.0
    assert got.warnings == []


def test_worse_metrics_keep_the_previous_version(reg):
    reg.save("m", TinyModel(1.0), _meta(0.80))
    reg.save("m", TinyModel(2.0), _meta(0.70))
    got = reg.load_best("m")
    assert got.version.version == 1
    assert any("v2" in w and "worse" in w for w in got.warnings)
    # the next version is compared with the last good one (v1), not with v2
    reg.save("m", TinyModel(3.0), _meta(0.75))
    assert reg.load_best("m").version.version == 1
    reg.save("m", TinyModel(4.0), _meta(0.82))
    assert reg.load_best("m").version.version == 4


def test_lower_is_better_metrics(reg):
    reg.save("m", TinyModel(1.0), {"metrics": {"brier": 0.10}, "key_metric": "brier",
                                   "higher_is_better": False})  # fmt: skip
    reg.save("m", TinyModel(2.0), {"metrics": {"brier": 0.12}, "key_metric": "brier",
                                   "higher_is_better": False})  # fmt: skip
    assert reg.load_best("m").version.version == 1


def test_truncated_or_missing_file_falls_back_with_a_warning(reg):
    reg.save("m", TinyModel(1.0), _meta(0.80))
    v2 = reg.save("m", TinyModel(2.0), _meta(0.85))
    f = v2.path / "tiny.json"
    f.write_bytes(f.read_bytes()[:5])
    got = reg.load_best("m")
    assert got.version.version == 1 and got.model.weight == 1.0
    assert got.warnings == ["m v2: file tiny.json is corrupt (checksum mismatch); using v1"]
    f.unlink()
    got = reg.load_best("m")
    assert got.version.version == 1
    assert "file tiny.json is missing" in got.warnings[0]
    with pytest.raises(RegistryError, match="missing"):
        reg.load("m", 2)


def test_nothing_usable_is_said_not_raised(reg, tmp_path):
    got = reg.load_best("m")
    assert got.model is None and got.warnings == ["no trained m model yet"]
    v1 = reg.save("m", TinyModel(1.0), _meta(0.80))
    (v1.path / "tiny.json").write_text("{}")
    got = reg.load_best("m")
    assert got.model is None
    assert got.warnings[-1] == "no usable m model"
    assert "no older version" in got.warnings[0]


def test_unreadable_metadata_is_skipped_with_a_warning(reg):
    reg.save("m", TinyModel(1.0), _meta(0.80))
    v2 = reg.save("m", TinyModel(2.0), _meta(0.90))
    (v2.path / "metadata.json").write_text("{not json")
    got = reg.load_best("m")
    assert got.version.version == 1
    assert any("v2" in w and "metadata unreadable" in w for w in got.warnings)
    assert reg.save("m", TinyModel(3.0), _meta(0.9)).version == 3  # numbering goes on


def test_rollback_pins_across_new_versions_and_says_so_until_released(reg, tmp_path):
    reg.save("m", TinyModel(1.0), _meta(0.80))
    reg.save("m", TinyModel(2.0), _meta(0.85))
    reg.rollback("m", 1, by="desktop", reason="v2 flags every tutor")
    got = reg.load_best("m")
    assert got.version.version == 1 and "rolled back to v1" in got.warnings[0]
    with pytest.raises(RegistryError, match="no version 9"):
        reg.rollback("m", 9)
    # A later, better version (the nightly retraining) does not end the pin silently.
    reg.save("m", TinyModel(3.0), _meta(0.90))
    again = ModelRegistry(reg.root, loaders=reg.loaders)  # another process, a restart
    got = again.load_best("m")
    assert got.version.version == 1
    assert any("v2, v3 are newer than the pinned v1" in w for w in got.warnings)
    assert again.pin("m")["pinned_by"] == "desktop"
    assert again.release("m") == 1 and again.pin("m") is None
    assert again.load_best("m").version.version == 3
    assert again.release("m") is None


def test_bad_names_and_models(reg):
    with pytest.raises(RegistryError):
        reg.save("../escape", TinyModel(1.0), _meta(0.8))
    with pytest.raises(RegistryError, match="KIND"):
        reg.save("m", object(), _meta(0.8))


def test_real_models_round_trip_without_pickles(tmp_path):
    from ml.churn import ChurnModel
    from ml.first_session import FirstSessionModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    T = rng.exponential(100 * np.exp(-X["a"].to_numpy()))
    d, e = np.minimum(T, 60), T <= 60
    churn = ChurnModel(distributions=("normal",), scales=(1.0,), max_rounds=30, nthread=1)
    churn.fit(X.iloc[:450], d[:450], e[:450], valid=(X.iloc[450:], d[450:], e[450:]))
    y = (rng.uniform(size=600) < 1 / (1 + np.exp(-X["a"]))).astype(int)
    fs = FirstSessionModel().fit(X.assign(subject=rng.choice(["x", "y"], 600)), y)
    reg = ModelRegistry(tmp_path)
    reg.save("tutor_churn", churn, {"metrics": {"auc_30d": 0.7}, "key_metric": "auc_30d"})
    v2 = reg.save("tutor_churn", churn, {"metrics": {"auc_30d": 0.7}, "key_metric": "auc_30d"})
    reg.save("first_session", fs, {"metrics": {"auc": 0.7}, "key_metric": "auc"})
    every_file = {p.suffix for p in tmp_path.rglob("*") if p.is_file()}
    assert every_file <= {".json", ".ubj"}
    got = reg.load_best("tutor_churn")
    pd.testing.assert_frame_equal(got.model.predict_curve(X), churn.predict_curve(X))
    # a truncated booster on disk: the previous version, and the reason
    booster = v2.path / "booster.ubj"
    booster.write_bytes(booster.read_bytes()[:100])
    got = reg.load_best("tutor_churn")
    assert got.version.version == 1
    assert "booster.ubj is corrupt" in got.warnings[0]
    fs_loaded = reg.load_best("first_session").model
    Xs = X.assign(subject="x")
    assert np.array_equal(fs_loaded.predict_proba(Xs), fs.predict_proba(Xs))
