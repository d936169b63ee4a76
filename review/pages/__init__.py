"""Read models behind the lead's pages: what each page shows, built in a fixed number of queries."""
