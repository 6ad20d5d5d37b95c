"""tagger: Bi-LSTM-CRF named-entity and part-of-speech tagging."""

__version__ = "0.1.0"
