"""Trained models on disk: one folder per version, with what they were trained on.

    registry = ModelRegistry(models_root)
    v = registry.save("tutor_churn", model, {"metrics": {...}, "key_metric": "auc_30d",
                                             "training_window": {...}, ...})
    loaded = registry.load_best("tutor_churn")   # LoadResult(model, version, warnings)
    registry.rollback("tutor_churn", 3, by="desktop")   # pin v3
    registry.release("tutor_churn")                     # back to the best version

Layout: ``<root>/<name>/v0001/`` holds the model's own files (XGBoost UBJSON, JSON: the
model's ``save(directory)`` writes them, nothing is pickled) and ``metadata.json``:
name, version, kind, trained_at, training window, feature list, library versions,
held-out metrics, the key metric and the SHA-256 of every file. A version is written
into a hidden temporary folder and renamed into place, so a crash never leaves a
half-written version that looks complete.

Which version the app uses (:meth:`ModelRegistry.load_best`):

1. a version is *acceptable* when its key metric is not worse (beyond ``tolerance``)
   than that of the last acceptable version before it (the first version always is;
   a missing metric on either side does not block);
2. the newest acceptable version is loaded; if its files are missing, truncated or do
   not match their checksums, the next older acceptable one, and so on;
3. after :meth:`rollback` the chosen version is *pinned*: it is the one loaded, by every
   process and after a restart (``state.json`` beside the versions), until someone
   calls :meth:`release`. A version trained later, even a better one, does not end the
   pin: a roll-back is a person's decision that the newer models are not to be trusted
   (bad data, a regression the metrics missed), and the nightly retraining would
   otherwise undo it within a day without anyone noticing. It is not silent either:
   while a newer version waits behind a pin, ``load_best`` says so in its warnings
   ("pinned to v2 ...; v4 is newer and not used while pinned"), the trainer repeats it
   in its result, and the app's model list marks the waiting versions.

Everything skipped is said in ``LoadResult.warnings`` (plain sentences the app shows),
not only logged.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

METADATA_FILE = "metadata.json"
STATE_FILE = "state.json"


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (unknown version, bad name...)."""


@dataclass
class ModelVersion:
    name: str
    version: int
    path: Path
    metadata: dict | None
    problem: str | None = None  # why the metadata could not be read

    @property
    def key_metric(self) -> float:
        md = self.metadata or {}
        key = md.get("key_metric")
        value = (md.get("metrics") or {}).get(key) if key else None
        try:
            return float(value) if value is not None else float("nan")
        except (TypeError, ValueError):
            return float("nan")

    @property
    def higher_is_better(self) -> bool:
        return bool((self.metadata or {}).get("higher_is_better", True))


@dataclass
class LoadResult:
    model: object | None
    version: ModelVersion | None
    warnings: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in ("numpy", "pandas", "xgboost", "sklearn", "scipy"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - a library that is not installed
            out[mod] = "missing"
    return out


def _default_kinds() -> dict[str, Callable[[Path], object]]:
    from ml.churn import ChurnModel
    from ml.first_session import FirstSessionModel
    from ml.scores import SessionsForecast

    return {
        ChurnModel.KIND: ChurnModel.load,
        FirstSessionModel.KIND: FirstSessionModel.load,
        SessionsForecast.KIND: SessionsForecast.load,
    }


def _clean(o):
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(o, Mapping):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, datetime):
        return o.isoformat()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return o


class ModelRegistry:
    """Versioned models under ``root`` (see the module doc)."""

    def __init__(
        self,
        root: str | Path,
        *,
        loaders: Mapping[str, Callable[[Path], object]] | None = None,
        tolerance: float = 0.0,
    ) -> None:
        self.root = Path(root)
        self._loaders = dict(loaders) if loaders is not None else None
        self.tolerance = tolerance

    @property
    def loaders(self) -> dict[str, Callable[[Path], object]]:
        if self._loaders is None:
            self._loaders = _default_kinds()
        return self._loaders

    def _dir(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise RegistryError(f"bad model name {name!r}")
        return self.root / name

    # ------------------------------------------------------------------ writing

    def save(self, name: str, model, metadata: Mapping | None = None) -> ModelVersion:
        """Save ``model`` (anything with ``KIND`` and ``save(directory) -> [files]``) as
        the next version of ``name``. ``metadata`` should carry ``metrics`` (held-out),
        ``key_metric`` (a key of metrics; ``higher_is_better`` defaults to True),
        ``training_window`` and ``trained_at``; ``features`` is taken from the model
        when it has them."""
        kind = getattr(model, "KIND", None)
        if not kind:
            raise RegistryError("the model has no KIND: the registry could not load it back")
        base = self._dir(name)
        base.mkdir(parents=True, exist_ok=True)
        md = dict(metadata or {})
        existing = [v.version for v in self.versions(name)]
        version = (max(existing) + 1) if existing else 1
        tmp = Path(tempfile.mkdtemp(prefix=f".v{version:04d}-", dir=base))
        try:
            files = list(model.save(tmp))
            checksums = {f: _sha256(tmp / f) for f in files}
            features = md.get("features")
            if features is None:
                try:
                    features = list(model.features)
                except Exception:
                    features = None
            md.update(
                name=name,
                version=version,
                kind=kind,
                saved_at=datetime.now(UTC).isoformat(),
                trained_at=md.get("trained_at") or datetime.now(UTC).isoformat(),
                training_window=md.get("training_window"),
                features=features,
                library_versions=library_versions(),
                metrics=md.get("metrics") or {},
                key_metric=md.get("key_metric"),
                higher_is_better=bool(md.get("higher_is_better", True)),
                files=checksums,
            )
            (tmp / METADATA_FILE).write_text(json.dumps(_clean(md), indent=1))
            final = base / f"v{version:04d}"
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # A pin survives a new version (see the module doc): load_best says it waits.
        return ModelVersion(name, version, final, json.loads((final / METADATA_FILE).read_text()))

    def rollback(
        self, name: str, version: int, *, by: str | None = None, reason: str = ""
    ) -> ModelVersion:
        """Pin ``version``: :meth:`load_best` returns it until :meth:`release`."""
        found = {v.version: v for v in self.versions(name)}
        if version not in found:
            raise RegistryError(f"{name} has no version {version}")
        # With loaders={} (listing, administration: no model library imported) the files
        # and checksums are verified, not whether this process could load the kind.
        problem = self._verify(found[version], check_kind=self._loaders != {})
        if problem:
            raise RegistryError(f"{name} v{version} cannot be used: {problem}")
        self._write_state(
            name,
            {
                "pinned": version,
                "pinned_at": datetime.now(UTC).isoformat(),
                "pinned_by": by,
                "reason": reason,
            },
        )
        return found[version]

    def release(self, name: str) -> int | None:
        """End a pin (the best version is used again); returns the version that was
        pinned, or None when there was none."""
        pinned = self.pin(name)
        self._write_state(name, {})
        return None if pinned is None else int(pinned["pinned"])

    def restore_pin(self, name: str, pin: dict | None) -> None:
        """Put back a pin as :meth:`pin` returned it (None: no pin), to undo a change."""
        self._write_state(name, dict(pin) if pin else {})

    def pin(self, name: str) -> dict | None:
        """The pin of ``name`` (``pinned``, ``pinned_at``, ``pinned_by``, ``reason``)."""
        state = self._state(name)
        return state if state.get("pinned") is not None else None

    def _write_state(self, name: str, state: dict) -> None:
        path = self._dir(name) / STATE_FILE
        if not state:
            path.unlink(missing_ok=True)
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)

    def _state(self, name: str) -> dict:
        try:
            return json.loads((self._dir(name) / STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    # ------------------------------------------------------------------ reading

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not
                      p.name.startswith("."))  # fmt: skip

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version folder of ``name``, oldest first (unreadable metadata included,
        with ``problem`` set)."""
        base = self._dir(name)
        if not base.is_dir():
            return []
        out = []
        for p in base.iterdir():
            if not (p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit()):
                continue
            try:
                md = json.loads((p / METADATA_FILE).read_text())
                out.append(ModelVersion(name, int(p.name[1:]), p, md))
            except (OSError, ValueError) as exc:
                out.append(ModelVersion(name, int(p.name[1:]), p, None,
                                        f"metadata unreadable ({type(exc).__name__})"))  # fmt: skip
        return sorted(out, key=lambda v: v.version)

    def _verify(self, v: ModelVersion, *, check_kind: bool = True) -> str | None:
        """None when every file is present and matches its checksum, else why not."""
        if v.metadata is None:
            return v.problem or "metadata unreadable"
        files = v.metadata.get("files") or {}
        if not files:
            return "no model files recorded"
        for fname, digest in files.items():
            path = v.path / fname
            if not path.is_file():
                return f"file {fname} is missing"
            if _sha256(path) != digest:
                return f"file {fname} is corrupt (checksum mismatch)"
        if check_kind and v.metadata.get("kind") not in self.loaders:
            return f"unknown model kind {v.metadata.get('kind')!r}"
        return None

    def load(self, name: str, version: int):
        """Load one version (checksums verified); raises RegistryError when unusable."""
        found = {v.version: v for v in self.versions(name)}
        if version not in found:
            raise RegistryError(f"{name} has no version {version}")
        v = found[version]
        problem = self._verify(v)
        if problem:
            raise RegistryError(f"{name} v{version}: {problem}")
        try:
            return self.loaders[v.metadata["kind"]](v.path)
        except Exception as exc:
            raise RegistryError(f"{name} v{version}: could not be loaded ({exc})") from exc

    def acceptable(self, name: str) -> tuple[list[ModelVersion], list[str]]:
        """Versions whose key metric is not worse than the last acceptable one before
        them (oldest first), and a sentence for each one left out."""
        ok: list[ModelVersion] = []
        notes: list[str] = []
        for v in self.versions(name):
            if v.metadata is None:
                continue  # reported when loading
            ref = ok[-1] if ok else None
            if ref is not None and self._worse(v, ref):
                key = v.metadata.get("key_metric")
                notes.append(
                    f"{name} v{v.version} scored {key} {v.key_metric:.4f}, worse than "
                    f"{ref.key_metric:.4f} of v{ref.version}: not used"
                )
                continue
            ok.append(v)
        return ok, notes

    def _worse(self, v: ModelVersion, ref: ModelVersion) -> bool:
        a, b = v.key_metric, ref.key_metric
        if math.isnan(a) or math.isnan(b):
            return False
        if v.metadata.get("key_metric") != ref.metadata.get("key_metric"):
            return False  # not comparable: a changed key metric does not block
        return a < b - self.tolerance if v.higher_is_better else a > b + self.tolerance

    def load_best(self, name: str) -> LoadResult:
        """The version to use, with every fallback explained in ``warnings``; ``model``
        is None when no version is usable (also explained)."""
        warnings: list[str] = []
        all_versions = self.versions(name)
        if not all_versions:
            return LoadResult(None, None, [f"no trained {name} model yet"])
        candidates, notes = self.acceptable(name)
        warnings.extend(notes)
        order = list(reversed(candidates))
        pin = self.pin(name)
        pinned = None if pin is None else pin.get("pinned")
        if pinned is not None:
            pv = [v for v in all_versions if v.version == pinned]
            if pv:
                order = pv + [v for v in order if v.version < pinned]
                since = str(pin.get("pinned_at") or "")[:16].replace("T", " ")
                warnings.append(f"{name} rolled back to v{pinned} (pinned since {since})")
                newer = [v.version for v in all_versions if v.version > pinned]
                if newer:
                    listed = ", ".join(f"v{n}" for n in newer)
                    warnings.append(
                        f"{name} {listed} {'is' if len(newer) == 1 else 'are'} newer than "
                        f"the pinned v{pinned} and not used while it is pinned "
                        "(release the pin to use the best version)"
                    )
        for v in all_versions:
            if v.metadata is None:
                warnings.append(f"{name} v{v.version}: {v.problem}; skipped")
        for v in order:
            problem = self._verify(v)
            if problem is None:
                try:
                    model = self.loaders[v.metadata["kind"]](v.path)
                except Exception as exc:
                    problem = f"could not be loaded ({type(exc).__name__}: {exc})"
                else:
                    return LoadResult(model, v, warnings)
            nxt = [o.version for o in order if o.version < v.version]
            fallback = f"using v{nxt[0]}" if nxt else "no older version to fall back on"
            warnings.append(f"{name} v{v.version}: {problem}; {fallback}")
        return LoadResult(None, None, [*warnings, f"no usable {name} model"])
