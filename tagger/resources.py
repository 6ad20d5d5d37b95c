"""Where the default models live: ``models/`` in a checkout, or the ``tagger_models``
package that the wheel installs from the same folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_MODEL_NAMES = ("ner-en-conll03", "pos-en-ewt")


def default_models_dir() -> Path:
    checkout = Path(__file__).resolve().parent.parent / "models"
    if (checkout / DEFAULT_MODEL_NAMES[0]).is_dir():
        return checkout
    try:
        return Path(str(resources.files("tagger_models")))
    except ModuleNotFoundError:
        return checkout


def default_model_paths() -> list[Path]:
    root = default_models_dir()
    return [root / name for name in DEFAULT_MODEL_NAMES]
