"""The 3D CycleGAN: unpaired translation of whole volumes, trained on random patches.

The CycleGAN's losses, pool and updates act on batches of any rank, so this
model is the CycleGAN with volumetric networks (``networks/volumetric.py``):
a 3D ResNet generator per direction and a 3D PatchGAN per domain, built for
``patch``-sized (D, H, W, 1) inputs. A whole volume is translated by sliding
that window over it (``sliding_window.py``, see ``inference3d.py``). The
sample grid shows the middle axial slice of a fixed patch of each domain.

With ``intensity_map``, each generator starts from an unpaired quantile map
fitted on the axial planes of the training volumes, as the 2D CycleGAN's do
(``networks/intensity.py``).
"""

from __future__ import annotations

import numpy as np

from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import UserError
from cyclegan_mri.models.cyclegan import CycleGAN, fit_intensity_maps
from cyclegan_mri.networks import DISCRIMINATORS_3D, GENERATORS_3D


def axial_view(patch: np.ndarray) -> np.ndarray:
    """The middle axial slice of a canonical (RAS+) (D, H, W, C) patch, as a radiologist views it: anterior
    at the top, the patient's right on the left."""
    middle = np.asarray(patch)[:, :, patch.shape[2] // 2]
    return np.rot90(middle, 1)


def axial_planes(volumes) -> list[np.ndarray]:
    """Every axial plane (a view, not a copy) of canonical (D, H, W) ``volumes``: objects with a ``data`` array."""
    return [volume.data[:, :, k] for volume in volumes for k in range(volume.data.shape[2])]


class CycleGAN3D(CycleGAN):
    """A CycleGAN of 3D networks over (D, H, W, 1) patches; see the module doc."""

    def __init__(self, patch: tuple[int, int, int], filters: int = 64, generator: str = "resnet9_3d",
                 discriminator: str = "patchgan3d", padding: str | None = None, domains: Domains = TUTORIAL,
                 **kwargs):
        if generator not in GENERATORS_3D:
            raise UserError(f"--model cyclegan3d needs a 3D generator ({', '.join(sorted(GENERATORS_3D))}), "
                            f"not {generator!r}")
        if discriminator not in DISCRIMINATORS_3D:
            raise UserError(f"--model cyclegan3d needs a 3D discriminator ({', '.join(sorted(DISCRIMINATORS_3D))}),"
                            f" not {discriminator!r}")
        super().__init__(image_shape=(*patch, 1), filters=filters, generator=generator, discriminator=discriminator,
                         domains=domains, generator_options={"padding": padding} if padding else None, **kwargs)
        self.patch = tuple(patch)

    def prepare(self, data) -> list[str]:
        """With an ``intensity_map``, fit each generator's table on the axial planes of the training volumes."""
        return fit_intensity_maps(self, axial_planes(data.a), axial_planes(data.b))

    def sample_panels(self, x: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        return [(title, axial_view(image)) for title, image in super().sample_panels(x, y)]
