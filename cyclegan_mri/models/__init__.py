"""The models of the package, one module each; ``cyclegan_mri.specs`` registers them by ``--model`` name.

``TranslationModel`` (``base.py``) is what every model offers the trainer, checkpoints and evaluation.
"""
