"""How often a lead audits an analyst's single labels: the rate adapts to their record.

An analyst's error rate is estimated from every check of their work that a lead or a gold
answer made: gold items answered wrongly and QA audits overturned, out of gold items
answered and audits decided. The estimate is the posterior mean under a Beta prior centred
on the reference error rate, so that a newcomer (no record) is audited at the base rate and
a few lucky answers move the rate only a little. The rate is the base rate scaled by the
estimated error over the reference error, clipped to [floor, cap]: everyone is audited at
least at the floor, weak analysts up to the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

# An analyst is presumed to err on one label in ten until their record says otherwise,
# with the weight of ten observations.
REFERENCE_ERROR = 0.10
PRIOR_WEIGHT = 10.0


@dataclass(frozen=True)
class Record:
    gold_answered: int = 0
    gold_wrong: int = 0
    audited: int = 0
    overturned: int = 0

    @property
    def checks(self) -> int:
        return self.gold_answered + self.audited

    @property
    def errors(self) -> int:
        return self.gold_wrong + self.overturned


def error_estimate(record: Record) -> float:
    prior_errors = REFERENCE_ERROR * PRIOR_WEIGHT
    return (record.errors + prior_errors) / (record.checks + PRIOR_WEIGHT)


def audit_rate(record: Record, *, base: float, floor: float, cap: float) -> float:
    """The probability with which this analyst's next single label is drawn for audit."""
    if not 0 < floor <= base <= cap <= 1:
        raise ValueError("need 0 < floor <= base <= cap <= 1")
    return min(cap, max(floor, base * error_estimate(record) / REFERENCE_ERROR))
