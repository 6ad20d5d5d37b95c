"""tagger: Bi-LSTM-CRF named-entity and part-of-speech tagging.

``from tagger import Tagger; Tagger.load("models/ner-en-conll03")("Angela Merkel visited Paris.")``
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Tagger", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import tagger` (e.g. for the tokenizer) does not pay for importing torch.
    if name == "Tagger":
        from tagger.pipeline import Tagger

        return Tagger
    raise AttributeError(name)
