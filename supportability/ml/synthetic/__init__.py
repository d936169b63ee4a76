"""A synthetic merchant world with hidden ground truth, for demos, tests and benchmarks."""

from __future__ import annotations

from .merchants import SyntheticMerchant, generate_merchants
from .model_inputs import ModelInputs, model_inputs

__all__ = ["ModelInputs", "SyntheticMerchant", "generate_merchants", "model_inputs"]
