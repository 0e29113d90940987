"""Translation models, chosen by name (``--model``), all sharing ``TranslationModel``."""

from __future__ import annotations

from cyclegan_mri.errors import UserError
from cyclegan_mri.models.base import TranslationModel
from cyclegan_mri.models.cut import CUT
from cyclegan_mri.models.cyclegan import CycleGAN
from cyclegan_mri.models.cyclegan3d import CycleGAN3D
from cyclegan_mri.models.ivan import IVAN
from cyclegan_mri.models.pix2pix import Pix2Pix
from cyclegan_mri.models.vox2vox import Vox2Vox

MODELS: dict[str, type[TranslationModel]] = {"cyclegan": CycleGAN, "pix2pix": Pix2Pix, "cut": CUT, "fastcut": CUT,
                                             "cyclegan3d": CycleGAN3D, "vox2vox": Vox2Vox, "ivan": IVAN}


def model_class(name: str) -> type[TranslationModel]:
    """The model class registered as ``name``."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]
