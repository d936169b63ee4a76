"""What an active-learning round costs at scale: draw a round over N scored merchants (the
beat does it every time a queue runs low), and read the lead's estimates over the rounds.

    python bench/sampling.py --size 1000000

A fresh PostgreSQL database per size (DATABASE_URL's name + _bench): N merchants, a
champion's scores for all of them (most low, a few high), 5 % already reviewed (done items
with clean labels), loaded by COPY. Then `--rounds` rounds of the default mix are drawn
through the service (`review.services.queue_draw_now`), their draws settled with clean
labels, and the dashboard's reads (`estimates_current`, `automation_bias`) timed. Peak RSS
is the process's: the draw holds the population as arrays.

`--smoke`: 500 merchants, 2 rounds, in a database of its own (dropped afterwards); the run
fails unless every round drew merchants and the estimates have a prevalence.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

# The script's own folder holds bench/queue.py, which would shadow the standard library's.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import smoke
from bench.queue_setup import MERCHANT_COPY, bench_url, django_setup, recreate_database

REVIEWED_SHARE = 0.05
SMOKE = {"size": 500, "rounds": 2}


def load(n: int) -> None:
    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    from labeling.services import queue_default
    from supportability.models import ModelVersion, PolicyCategory

    call_command("migrate", verbosity=0)
    queue = queue_default()
    queue.gold_rate = 0
    queue.draw_capacity = 200
    queue.save()
    rng = np.random.default_rng(n)
    probability = np.clip(rng.beta(0.4, 6.0, size=n), 0.0005, 0.9995)
    volume = rng.lognormal(9, 1.5, size=n)
    model = ModelVersion.objects.create(
        name="bench", version="1", status=ModelVersion.Status.CHAMPION
    )
    none = PolicyCategory.objects.get(slug="none").pk
    drugs = PolicyCategory.objects.get(slug="pseudo-pharmaceuticals").pk
    with connection.cursor() as cursor:
        with cursor.copy(MERCHANT_COPY) as copy:
            for i in range(n):
                group = i if i % 10 else i // 10  # a tenth are look-alikes of another
                copy.write_row(
                    (f"S{i:08d}", f"Shop {group}", "US", "5999", f"https://shop{group}.example",
                     "", "", 0.01, 0.001, 0.5, 400, float(volume[i]), "now", "now")
                )  # fmt: skip
        cursor.execute("SELECT min(id) FROM supportability_merchant")
        first = cursor.fetchone()[0]
        with cursor.copy(
            "COPY supportability_score (merchant_id, model_version_id, probability,"
            " explanation, created_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row((first + i, model.pk, float(probability[i]), "{}", "now"))
        reviewed = rng.choice(n, size=int(n * REVIEWED_SHARE), replace=False)
        with cursor.copy(
            "COPY labeling_reviewitem (merchant_id, queue_id, reason, status, priority,"
            " propensity, required_labels, label_count, score_hidden, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for i in reviewed:
                copy.write_row(
                    (first + int(i), queue.pk, "flagged", "done", 0.0, 1.0, 1, 1, False,
                     "now", "now")
                )  # fmt: skip
        with cursor.copy(
            "COPY review_cleanlabel (merchant_id, decision, category_id, source, confidence,"
            " label_ids, for_training, propensity, computed_at) FROM STDIN"
        ) as copy:
            for i in reviewed:
                violating = rng.random() < probability[i]
                copy.write_row(
                    (first + int(i), "prohibited" if violating else "supportable",
                     drugs if violating else none, "agreement", 1.0, "[]", True, 1.0, "now")
                )  # fmt: skip
        cursor.execute("ANALYZE")


def settle(sampling_round: Any, rng: Any) -> None:
    """Clean labels for a round's new draws, as if analysts had worked the round."""
    from review.models import CleanLabel
    from supportability.models import PolicyCategory

    none = PolicyCategory.objects.get(slug="none")
    drugs = PolicyCategory.objects.get(slug="pseudo-pharmaceuticals")
    CleanLabel.objects.bulk_create(
        [
            CleanLabel(
                merchant_id=d.merchant_id,
                decision="prohibited" if v else "supportable",
                category=drugs if v else none,
                source=CleanLabel.Source.AGREEMENT,
                confidence=1.0,
            )
            for d in sampling_round.draws.filter(reused=False)
            for v in [rng.random() < d.probability]
        ],
        ignore_conflicts=True,
    )


def bench_size(url: str, n: int, rounds: int) -> dict[str, Any]:
    """N merchants on the database at `url` (dropped and re-created first), `rounds` draws."""
    import numpy as np

    recreate_database(url)
    django_setup(url)
    from labeling.services import queue_default
    from review.pages.estimates import automation_bias, estimates_current
    from review.services import queue_draw_now

    started = time.perf_counter()
    load(n)
    result: dict[str, Any] = {"n": n, "load_s": time.perf_counter() - started}
    rng = np.random.default_rng(0)
    draws, drawn, new = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        sampling_round = queue_draw_now(queue_id=queue_default().pk, rng=rng)
        draws.append(time.perf_counter() - started)
        drawn.append(sampling_round.drawn)
        new.append(sampling_round.new_items)
        settle(sampling_round, rng)
    started = time.perf_counter()
    estimates = estimates_current()
    result["estimates_s"] = time.perf_counter() - started
    started = time.perf_counter()
    automation_bias()
    result["bias_s"] = time.perf_counter() - started
    violating = estimates.rows[0].ipw
    # Where the risk stratum's draws land in the live ranking (the harness tuned its
    # sharpness on 15,000 merchants): their scores' rank among all scores.
    from labeling.models import Draw
    from supportability.models import Score

    scores = np.sort(np.array(Score.objects.values_list("probability", flat=True)))
    risk = np.array(
        Draw.objects.filter(strategies__contains="risk").values_list("probability", flat=True)
    )
    top = 1 - np.searchsorted(scores, risk) / len(scores)  # share of merchants scored higher
    result["risk_draws_in_top"] = {
        share: float(np.mean(top <= share)) for share in (0.001, 0.01, 0.1)
    }
    result |= {
        "draw_s": draws,
        "drawn": drawn,
        "new_items": new,
        "violating": (violating.value, violating.low, violating.high) if violating else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    return result


def report(r: dict[str, Any]) -> None:
    n = r["n"]
    print(
        f"N={n:,}  load {r['load_s']:.1f} s  draw {' / '.join(f'{s:.2f}' for s in r['draw_s'])} s"
        f"  drawn {r['drawn']} (new {r['new_items']})  estimates {r['estimates_s']:.3f} s"
        f"  automation bias {r['bias_s']:.3f} s  peak RSS {r['peak_rss_mb']:.0f} MB"
        f"  violating {r['violating']}  risk draws in the top 0.1/1/10 %:"
        f" {r['risk_draws_in_top']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    smoke.add_flag(parser)
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/supportability")
    if args.smoke:
        smoke.shrink(args, **SMOKE)
        with smoke.throwaway_database(base, "sampling") as url:
            r = bench_size(url, args.size, args.rounds)
        report(r)
        smoke.check(all(r["drawn"]), f"a round drew no merchant: {r['drawn']}")
        smoke.check(r["violating"] is not None, "no prevalence estimate")
        return
    report(bench_size(bench_url(base), args.size, args.rounds))


if __name__ == "__main__":
    main()
