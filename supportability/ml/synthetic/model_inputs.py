"""Turn synthetic merchants into the inputs of ``train_model`` and ``TrainedModel.predict``,
the same way the app turns stored merchants into them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..features import NUMERIC_FEATURES, merchant_text, numeric_matrix
from ..taxonomy import VIOLATING_DECISIONS
from .merchants import SyntheticMerchant


@dataclass(frozen=True)
class ModelInputs:
    texts: list[str]
    numeric: np.ndarray
    decisions: list[str]  # the hidden truth, as if an analyst had labelled every merchant
    categories: list[str]

    @property
    def violating(self) -> np.ndarray:
        """0/1 labels: 1 for restricted or prohibited."""
        return np.array([d in VIOLATING_DECISIONS for d in self.decisions], dtype=np.int64)


def model_inputs(merchants: Sequence[SyntheticMerchant]) -> ModelInputs:
    return ModelInputs(
        texts=[
            merchant_text(m.name, m.description, m.website_text, country=m.country, mcc=m.mcc)
            for m in merchants
        ],
        numeric=numeric_matrix([{f: getattr(m, f) for f in NUMERIC_FEATURES} for m in merchants]),
        decisions=[m.true_decision for m in merchants],
        categories=[m.true_category for m in merchants],
    )
