"""The lead's screens, one module per page family."""
