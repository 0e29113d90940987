"""The one image loader: bytes or arrays in, model-ready float32 slices out, and back."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import imageio.v3 as iio
import numpy as np
from skimage.transform import resize

from cyclegan_mri.data.intensity import Scaling
from cyclegan_mri.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# ITU-R BT.601 luma, the weights PIL uses for "L": a grayscale PNG saved from an
# RGB viewer round-trips to the same values.
_LUMA = np.array([0.299, 0.587, 0.114])
GRAY_TOLERANCE = 2


def is_image_name(name: str) -> bool:
    """True for file names the loader reads (by suffix; hidden files never)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_SUFFIXES)


def to_8bit(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Convert any decoded image to 8 bits, keeping its colour: (H, W) grayscale or (H, W, 3) colour.

    Returns the image and a short note of what was converted (None when nothing
    was), so callers can report conversions.
    """
    notes = []
    image = np.asarray(array)
    if image.ndim == 3:
        channels = image.shape[-1]
        if channels in (2, 4):  # gray+alpha or RGBA: alpha carries no contrast
            image = image[..., :-1]
            notes.append("alpha dropped")
        if image.shape[-1] == 1:
            image = image[..., 0]
        elif image.shape[-1] != 3:
            raise DataError(f"unsupported number of channels: {channels}")
    elif image.ndim != 2:
        raise DataError(f"expected a 2D image, got shape {image.shape}")

    if array.dtype == np.uint8:
        out = image
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
    return np.ascontiguousarray(out), (", ".join(notes) or None)


def is_gray(image: np.ndarray) -> bool:
    """Whether an 8-bit image holds no colour: stored in one channel, or in three that agree.

    Channels within ``GRAY_TOLERANCE`` levels of each other agree: a gray image saved as
    a colour JPEG comes back with channels that differ by a level of rounding.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        return True
    spread = image.max(axis=-1).astype(np.int16) - image.min(axis=-1)
    return int(spread.max(initial=0)) <= GRAY_TOLERANCE


def channels_of(images: Iterable[tuple[str, np.ndarray]], source: str) -> int:
    """The channel count a set of 8-bit images trains with: 3 if any holds colour, else 1.

    Images stored in colour whose channels agree (``is_gray``) go with either.
    Grayscale-stored images beside colour ones are ambiguous: a DataError asks for ``--channels``.
    """
    gray = colour = None
    for name, image in images:
        if np.ndim(image) == 2:
            gray = gray or name
        elif not is_gray(image):
            colour = colour or name
    if gray and colour:
        raise DataError(f"{source}: both grayscale and colour images ({gray} is grayscale, {colour} is colour); "
                        "pass --channels 1 to train on gray (colour converted) or --channels 3 to train on "
                        "colour (gray repeated in three channels)")
    return 3 if colour else 1


def with_channels(image: np.ndarray, channels: int) -> tuple[np.ndarray, str | None]:
    """An 8-bit image (from ``to_8bit``) in ``channels`` (1: (H, W); 3: (H, W, 3)), and what was converted."""
    image = np.asarray(image)
    if channels == 1 and image.ndim == 3:
        return np.asarray(np.round(image.astype(np.float64) @ _LUMA), dtype=np.uint8), "RGB to gray"
    if channels == 3 and image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1), "gray to RGB"
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    return image, None


def to_gray_uint8(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Convert any decoded image to 8-bit grayscale, and say what was converted (None: nothing)."""
    image, note = to_8bit(array)
    image, change = with_channels(image, 1)
    return image, ", ".join(n for n in (note, change) if n) or None


def decode_image(data: bytes, name: str = "image", channels: int | None = 1) -> tuple[np.ndarray, str | None]:
    """Decode image bytes to 8 bits in ``channels`` (None: as stored, gray or colour); a corrupt file raises
    DataError naming it. Returns the image and a note of what was converted, or None."""
    try:
        # Palette images come back as RGB(A), so they are converted like any colour image.
        array = iio.imread(io.BytesIO(data), index=None)
    except Exception as error:  # the decoders raise many types for broken files
        raise DataError(f"{name}: cannot decode image ({error.__class__.__name__}: {error})") from None
    image, note = to_8bit(array)
    if channels is None:
        return image, note
    image, change = with_channels(image, channels)
    return image, ", ".join(n for n in (note, change) if n) or None


def to_model_range(images: np.ndarray | Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Scale 8-bit slices, (H, W) gray or (H, W, C), to [-1, 1] and resize them to ``size`` (rows, cols).

    As the tutorial: ``x / 127.5 - 1`` first, then scikit-image's bilinear
    resize. Returns float32 of shape (N, rows, cols, C), channels last; every
    image must have the same channel count.
    """
    channels = {1 if np.ndim(image) == 2 else np.shape(image)[-1] for image in images}
    if len(channels) > 1:
        raise ValueError(f"images of different channel counts: {sorted(channels)}")
    out = np.empty((len(images), size[0], size[1], channels.pop() if channels else 1), dtype=np.float32)
    for i, image in enumerate(images):
        scaled = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        if scaled.ndim == 2:
            scaled = scaled[..., None]
        if scaled.shape[:2] != tuple(size):
            scaled = resize(scaled, size, order=1, mode="reflect", anti_aliasing=None)
        out[i] = scaled
    return out


def to_intensity(image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Map one model output in [-1, 1] back to float intensities in [0, 255], (H, W) for one channel and
    (H, W, C) for more, optionally resized to ``size`` (rows, cols).

    Scores are computed on these unrounded values, as for the baselines; PNGs get ``to_uint8`` of them.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if size is not None and image.shape[:2] != tuple(size[:2]):
        image = resize(image, size, order=1, mode="reflect", anti_aliasing=None)
    return np.clip((image + 1.0) * 127.5, 0, 255)


def to_uint8(intensities: np.ndarray) -> np.ndarray:
    """Round [0, 255] intensities to an 8-bit slice."""
    return np.clip(np.round(intensities), 0, 255).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """8-bit PNG bytes of one slice, (H, W) gray or (H, W, 3) colour."""
    return iio.imwrite("<bytes>", np.asarray(image, dtype=np.uint8), extension=".png")
