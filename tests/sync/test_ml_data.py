"""The frames the models read from the local database equal the sandbox's own."""

from __future__ import annotations

import pandas as pd

from ml.frames import COLUMNS
from services.ml_data import load_frames
from services.sandbox.frames import frames_at
from tests.sync.helpers import make_sync


def _ms(series: pd.Series) -> pd.Series:
    # The API emits milliseconds (Rails' default), so the database holds those.
    return series.dt.floor("ms")


def test_loaded_frames_match_the_world_on_both_backends(any_engine, sandbox_server):
    assert make_sync(any_engine, sandbox_server).sync().status == "ok"
    loaded = load_frames(any_engine)
    expected = frames_at(sandbox_server.world, sandbox_server.clock.read_bound_us())
    for name, cols in COLUMNS.items():
        got, want = getattr(loaded, name), getattr(expected, name)[list(cols)]
        assert len(got) == len(want), name
        assert list(got.columns) == list(cols)
        for col in cols:
            g, w = got[col], want[col].reset_index(drop=True)
            if isinstance(w.dtype, pd.DatetimeTZDtype):
                pd.testing.assert_series_equal(g, _ms(w), check_names=False)
            elif w.dtype == "float64":
                pd.testing.assert_series_equal(g, w, check_names=False, atol=1e-6)
            else:
                assert g.tolist() == w.tolist(), f"{name}.{col}"
                assert str(g.dtype) == str(w.dtype), f"{name}.{col}: {g.dtype} != {w.dtype}"
    # Censoring happens where the synced data ends, not at the wall clock.
    assert loaded.observed_until <= expected.observed_until
    assert expected.observed_until - loaded.observed_until < pd.Timedelta(days=1)
