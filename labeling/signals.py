"""Signals labeling sends for the layers above it, which it must not import.

`review_screen_extras`: sent while the analyst's review screen is built, with `lease` (the
analyst's live lease, its item and merchant loaded) and `user`. A receiver returns a dict
of extra template context (for example the review app's earlier final decisions on the
merchant, key `earlier_decisions`), or None. A receiver must keep blind labelling: nothing
it returns may show a label of an item still open for labels.
"""

from __future__ import annotations

from django.dispatch import Signal

review_screen_extras = Signal()
