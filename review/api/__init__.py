"""The lead's HTTP API: label snapshots for retraining jobs, and the current clean labels."""
