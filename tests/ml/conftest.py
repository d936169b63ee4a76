"""Shared synthetic worlds and trained models for the ml tests.

These tests import no Django and use no database, so they run both inside the project's
Django pytest session and alone with ``pytest -p no:django tests/ml``.
"""

from __future__ import annotations

import pytest

from supportability.ml.model import TrainedModel
from supportability.ml.synthetic import ModelInputs, generate_merchants, model_inputs
from supportability.ml.synthetic.merchants import SyntheticMerchant
from supportability.ml.training import train_model


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # pyproject's addopts carry pytest-django flags; with that plugin disabled
    # (-p no:django) accept and ignore them instead of failing on "unrecognized arguments".
    if pluginmanager.has_plugin("django"):
        return
    group = parser.getgroup("django-free", "pytest-django options, ignored (-p no:django)")
    for flag in ("--reuse-db", "--create-db", "--nomigrations", "--no-migrations"):
        group.addoption(flag, action="store_true", help="ignored: pytest-django is disabled")
    parser.addini("DJANGO_SETTINGS_MODULE", "ignored: pytest-django is disabled")


@pytest.fixture(scope="session")
def world_5000() -> list[SyntheticMerchant]:
    return generate_merchants(5_000, seed=0)


@pytest.fixture(scope="session")
def train_world() -> ModelInputs:
    return model_inputs(generate_merchants(2_000, seed=1))


@pytest.fixture(scope="session")
def holdout_world() -> ModelInputs:
    return model_inputs(generate_merchants(2_000, seed=2))


@pytest.fixture(scope="session")
def trained(train_world: ModelInputs) -> TrainedModel:
    return train_model(
        train_world.texts, train_world.numeric, train_world.decisions, train_world.categories
    )


@pytest.fixture(scope="session")
def small_world() -> ModelInputs:
    """600 merchants, a fifth of them violating: quick to train on."""
    return model_inputs(generate_merchants(600, seed=5, prevalence=0.2))


@pytest.fixture(scope="session")
def small_model(small_world: ModelInputs) -> TrainedModel:
    return train_model(
        small_world.texts, small_world.numeric, small_world.decisions, small_world.categories
    )
