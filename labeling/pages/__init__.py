"""Read models behind the analyst's pages: what each screen shows, built from the ORM in a
fixed number of queries (pinned in tests)."""
