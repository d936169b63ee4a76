"""Machine learning for merchant supportability: a synthetic merchant world with hidden
ground truth, feature extraction, and a calibrated, explainable risk model.

Nothing in this package imports Django; services translate between the ORM and it.
"""
