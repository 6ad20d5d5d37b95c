"""The default models, installed with the wheel as the ``tagger_models`` package."""
