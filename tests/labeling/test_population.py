"""Population percentiles of the numeric signals: one query, then Django's cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from labeling.pages import population
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_the_table_is_computed_once_then_read_from_the_cache(django_assert_num_queries):
    for rate in (0.0, 0.01, 0.02, 0.05):
        MerchantFactory(refund_rate=rate)
    with django_assert_num_queries(2):
        table = population.population_table()
    assert table is not None and table.merchants == 4 and not table.sampled
    with django_assert_num_queries(0):
        again = population.population_table()
    assert again is not None and again.computed_at == table.computed_at


def test_percentile_counts_ties_half_and_orders_values():
    for rate in (0.01, 0.02, 0.03, 0.04):
        MerchantFactory(refund_rate=rate)
    table = population.population_compute()
    assert table is not None
    low, high = table.percentile("refund_rate", 0.0), table.percentile("refund_rate", 0.5)
    assert low == 0.0 and high == 100.0
    assert 40 < table.percentile("refund_rate", 0.025) < 60
    assert table.percentile("unknown_feature", 1.0) is None


def test_a_large_population_is_sampled_by_id(monkeypatch):
    monkeypatch.setattr(population, "SAMPLE_MAX", 3)
    # Ids that do not start at 1 (merchants deleted before; PostgreSQL's sequence in a
    # reused test database): the sample still takes every step-th of the ids there are.
    for merchant in MerchantFactory.create_batch(20):
        merchant.delete()
    MerchantFactory.create_batch(9)
    table = population.population_compute()
    assert table is not None and table.sampled and 2 <= table.merchants <= 4


def test_no_merchants_no_table():
    assert population.population_table() is None
