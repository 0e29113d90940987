"""The one image loader: bytes or arrays in, model-ready float32 slices out, and back."""

from __future__ import annotations

import io
from collections.abc import Sequence

import imageio.v3 as iio
import numpy as np
from skimage.transform import resize

from cyclegan_mri.data.intensity import Scaling
from cyclegan_mri.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# ITU-R BT.601 luma, the weights PIL uses for "L": a grayscale PNG saved from an
# RGB viewer round-trips to the same values.
_LUMA = np.array([0.299, 0.587, 0.114])


def is_image_name(name: str) -> bool:
    """True for file names the loader reads (by suffix; hidden files never)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_SUFFIXES)


def to_gray_uint8(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Convert any decoded image to 8-bit grayscale.

    Returns the image and a short note of what was converted (None when it
    already was 8-bit grayscale), so callers can report conversions.
    """
    notes = []
    image = np.asarray(array)
    if image.ndim == 3:
        channels = image.shape[-1]
        if channels in (2, 4):  # gray+alpha or RGBA: alpha carries no contrast
            image = image[..., :-1]
            notes.append("alpha dropped")
        if image.shape[-1] == 3:
            image = image.astype(np.float64) @ _LUMA
            notes.append("RGB to gray")
        elif image.shape[-1] == 1:
            image = image[..., 0]
        else:
            raise DataError(f"unsupported number of channels: {channels}")
    elif image.ndim != 2:
        raise DataError(f"expected a 2D image, got shape {image.shape}")

    if array.dtype == np.uint8:
        out = np.asarray(np.round(image), dtype=np.uint8) if image.dtype != np.uint8 else image
    elif array.dtype == bool:
        out = image.astype(np.uint8) * 255
        notes.append("binary to 8-bit")
    elif np.unique(image).size == 1:
        out = np.zeros(image.shape, np.uint8)  # a blank image: nothing to window
        notes.append("constant image to 0")
    else:
        # 16-bit MRI rarely uses its type's range (12-bit scanners store 0-4095): window it by its own
        # percentiles, as NIfTI volumes are, rather than by the type's maximum, which would leave it nearly black.
        out = to_uint8(Scaling.window(image).to_slices(image))
        kind = f"{np.iinfo(array.dtype).bits}-bit" if np.issubdtype(array.dtype, np.integer) else "float"
        notes.append(f"{kind} to 8-bit by its 0.5-99.5th percentiles")
    return out, (", ".join(notes) or None)


def decode_image(data: bytes, name: str = "image") -> tuple[np.ndarray, str | None]:
    """Decode image bytes to 8-bit grayscale; a corrupt file raises DataError naming it."""
    try:
        # Palette images come back as RGB(A), so they are converted like any colour image.
        array = iio.imread(io.BytesIO(data), index=None)
    except Exception as error:  # the decoders raise many types for broken files
        raise DataError(f"{name}: cannot decode image ({error.__class__.__name__}: {error})") from None
    return to_gray_uint8(array)


def to_model_range(images: np.ndarray | Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Scale 8-bit slices to [-1, 1] and resize them to ``size`` (rows, cols).

    As the tutorial: ``x / 127.5 - 1`` first, then scikit-image's bilinear
    resize. Returns float32 of shape (N, rows, cols, 1), channels last.
    """
    out = np.empty((len(images), size[0], size[1], 1), dtype=np.float32)
    for i, image in enumerate(images):
        scaled = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        if scaled.shape != tuple(size):
            scaled = resize(scaled, size, order=1, mode="reflect", anti_aliasing=None)
        out[i, :, :, 0] = scaled
    return out


def to_intensity(image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Map one model output in [-1, 1] back to float intensities in [0, 255], optionally resized to ``size``.

    Scores are computed on these unrounded values, as for the baselines; PNGs get ``to_uint8`` of them.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image[..., 0]
    if size is not None and image.shape != tuple(size):
        image = resize(image, size, order=1, mode="reflect", anti_aliasing=None)
    return np.clip((image + 1.0) * 127.5, 0, 255)


def to_uint8(intensities: np.ndarray) -> np.ndarray:
    """Round [0, 255] intensities to an 8-bit slice."""
    return np.clip(np.round(intensities), 0, 255).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """8-bit grayscale PNG bytes of one slice."""
    return iio.imwrite("<bytes>", np.asarray(image, dtype=np.uint8), extension=".png")
