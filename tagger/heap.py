"""Garbage-collector settings for processes that tag: set once by the entry points
(``tagger tag``, ``tagger evaluate``, the server, Ray actors), after the models load.

Tagging allocates a few container objects per token (labels, tokens, entities), so
CPython's cyclic collector runs every 700 of them and, every hundred runs or so, walks
every tracked object in the process, the models' vocabularies (a hundred thousand
words) included. On CoNLL-2003 dev that was a quarter of ``tagger tag``'s time in one
process. Two settings remove it without turning the collector off:

- ``gc.freeze()`` moves everything alive after loading (vocabularies, modules, the
  models) to a generation the collector never walks; forked workers inherit it, and
  their shared pages are no longer written to by the collector's bookkeeping;
- a larger first-generation threshold makes young collections rarer (cycles are still
  collected, a few thousand allocations later).

Process-wide, so the library never calls this itself.
"""

from __future__ import annotations

import gc

# Young-generation threshold (CPython's default is 700) and the older two (10, 10).
THRESHOLDS = (10_000, 50, 100)


def settle_after_loading() -> None:
    """Freeze what is loaded and make collections rarer; call once models are loaded."""
    gc.collect()  # what loading left as garbage goes now, not into the frozen set
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
