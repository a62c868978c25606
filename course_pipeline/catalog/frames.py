"""Small vectorised helpers the catalog steps share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def isin(values: pd.Series, known: pd.Series | np.ndarray) -> np.ndarray:
    """values.isin(known) as a bool array. For text, Arrow's hash lookup is about ten times faster than
    pandas' isin on Arrow-backed strings (a million lesson references: 0.07 s against 0.8 s)."""
    try:
        looked_up = pc.is_in(pa.array(values, from_pandas=True), value_set=pa.array(known, from_pandas=True))
        return pc.fill_null(looked_up, False).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return values.isin(known).to_numpy()
