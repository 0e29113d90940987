"""Locate, download and verify the tutorial's MRI T1/T2 dataset archive.

The archive (``MRI+T1_T2+Dataset.RAR``, MIT licence, from the repository
BharathSD/CycleGAN-For-MRI) is never committed.  It is found, in this order,
at an explicit path, at :data:`DEFAULT_ARCHIVE`, at the file named by the
environment variable :data:`ARCHIVE_ENV`, or downloaded from
:data:`ARCHIVE_URL` into :data:`DEFAULT_ARCHIVE`.  Every archive file is
checked against :data:`ARCHIVE_SHA256` before use.

Every failure is raised as :class:`cyclegan_mri.errors.DataError` with a
one-line message that says what to do about it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from cyclegan_mri.errors import DataError

__all__ = [
    "ARCHIVE_ENV",
    "ARCHIVE_NAME",
    "ARCHIVE_SHA256",
    "ARCHIVE_SIZE",
    "ARCHIVE_URL",
    "DEFAULT_ARCHIVE",
    "download",
    "ensure_archive",
    "sha256_of",
    "verify_archive",
]

ARCHIVE_NAME = "MRI+T1_T2+Dataset.RAR"
ARCHIVE_URL = "https://github.com/BharathSD/CycleGAN-For-MRI/raw/main/MRI%2BT1_T2%2BDataset.RAR"
ARCHIVE_SHA256 = "cdd45b2d2f2404eae4e181935465e66e0477e97e5ab136be4081dc2f0d1dd37a"
ARCHIVE_SIZE = 1823691
DEFAULT_ARCHIVE = Path("datasets") / ARCHIVE_NAME
ARCHIVE_ENV = "CYCLEGAN_MRI_ARCHIVE"

_CHUNK = 1 << 16


def _one_line(text: object) -> str:
    # Messages reach the user as a single stderr line; exception texts from
    # the network stack occasionally carry newlines.
    return " ".join(str(text).split())


def _by_hand_hint(url: str) -> str:
    return (
        f"download it by hand from {url} and pass --data PATH "
        f"or set {ARCHIVE_ENV}=PATH"
    )


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 digest of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_archive(
    path: str | os.PathLike[str],
    sha256: str = ARCHIVE_SHA256,
    accept_mismatch: bool = False,
) -> None:
    """Check that the file at ``path`` has the SHA-256 digest ``sha256``.

    Raises :class:`DataError` when the file is missing, unreadable or has
    another digest; with ``accept_mismatch=True`` a wrong digest only
    emits a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"dataset archive {path} does not exist or is not a file")
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise DataError(f"cannot read dataset archive {path}: {_one_line(exc)}") from exc
    if actual == sha256.lower():
        return
    mismatch = f"dataset archive {path} has sha256 {actual}, expected {sha256}"
    if not accept_mismatch:
        raise DataError(f"{mismatch}; pass --accept-checksum to use it anyway")
    warnings.warn(
        f"{mismatch}; using it anyway (--accept-checksum)",
        stacklevel=2,
    )


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = ARCHIVE_SHA256,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download ``url`` to ``dest`` and return ``dest`` as a :class:`Path`.

    The bytes are streamed into ``dest`` + ``".part"`` in the same folder
    (parent folders are created) and moved to ``dest`` only once complete
    and, unless ``sha256`` is None, only when their digest matches.  On any
    failure (network error, a response shorter than its Content-Length, a
    wrong digest, Ctrl-C) the ``.part`` file is removed, nothing is created
    under ``dest`` and :class:`DataError` is raised.  ``progress`` shows a
    Keras progress bar on stdout; ``timeout`` applies to each socket
    operation, in seconds.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    try:
        digest = hashlib.sha256()
        received = 0
        with urllib.request.urlopen(url, timeout=timeout) as response:
            try:
                expected_size: int | None = int(response.headers["Content-Length"])
            except (TypeError, ValueError):
                expected_size = None
            bar = None
            if progress:
                # Keras pulls in TensorFlow; only pay for it when a bar is shown.
                from keras.utils import Progbar

                print(f"Downloading {url} -> {dest}")
                bar = Progbar(expected_size, unit_name="byte")
            # Created only once the server answered, so a failed request
            # leaves no empty folders behind.
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(part, "wb") as out:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(received)
        # http.client returns EOF quietly when the peer closes early, so a
        # short body has to be caught here rather than by an exception.
        if expected_size is not None and received != expected_size:
            raise DataError(
                f"download of {url} was cut short after {received} of "
                f"{expected_size} bytes; try again or {_by_hand_hint(url)}"
            )
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256.lower():
            raise DataError(
                f"download of {url} has sha256 {actual}, expected {sha256}; "
                f"the file was discarded, pass --accept-checksum to keep it anyway"
            )
        os.replace(part, dest)
    except DataError:
        part.unlink(missing_ok=True)
        raise
    except KeyboardInterrupt as exc:
        part.unlink(missing_ok=True)
        raise DataError(f"download of {url} was interrupted; nothing was kept") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # URLError, HTTPError and socket timeouts are OSErrors; a malformed
        # URL is a ValueError; a broken HTTP exchange is an HTTPException.
        part.unlink(missing_ok=True)
        reason = exc
        if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
            reason = exc.reason
        raise DataError(
            f"could not download {url} ({_one_line(reason) or type(exc).__name__}); "
            f"{_by_hand_hint(url)}"
        ) from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return dest


def _is_default(path: Path) -> bool:
    if path == DEFAULT_ARCHIVE:
        return True
    try:
        return path.resolve() == DEFAULT_ARCHIVE.resolve()
    except OSError:
        return False


def _existing(path: Path, sha256: str, accept_mismatch: bool) -> Path:
    # A folder holds already extracted images; there is no single digest
    # to check, so the image loader validates its contents instead.
    if path.is_file():
        with path.open("rb") as stream:
            # RAR 4 and RAR 5 signatures: say "not an archive" rather than "wrong checksum".
            if not stream.read(7).startswith(b"Rar!\x1a\x07"):
                raise DataError(f"{path}: not a RAR archive; pass --data with the dataset's .RAR or a folder "
                                "of images of two domains (trainA/ and trainB/, A/ and B/, t1/ and t2/...)")
        verify_archive(path, sha256, accept_mismatch)
    return path


def ensure_archive(
    path: str | os.PathLike[str] | None = None,
    *,
    download_missing: bool = True,
    accept_mismatch: bool = False,
    url: str = ARCHIVE_URL,
) -> Path:
    """Return a verified dataset archive, or a folder of extracted images.

    Resolution order:

    1. ``path`` when it exists: a file is verified, a folder is returned as is.
    2. When ``path`` is None or :data:`DEFAULT_ARCHIVE` and missing: the file
       named by the environment variable :data:`ARCHIVE_ENV`, if set.
    3. Otherwise, when ``download_missing``, a download from ``url`` into
       ``path`` (default :data:`DEFAULT_ARCHIVE`).

    Anything else (an explicit non-default path that does not exist, an
    environment variable naming a missing file, a missing archive with
    ``download_missing=False``, a wrong digest without ``accept_mismatch``)
    raises :class:`DataError`.
    """
    target = DEFAULT_ARCHIVE if path is None else Path(path).expanduser()
    if target.exists():
        return _existing(target, ARCHIVE_SHA256, accept_mismatch)
    if not _is_default(target):
        raise DataError(
            f"{target} does not exist; pass --data with the RAR archive "
            f"or a folder of images of two domains (trainA/ and trainB/, A/ and B/, t1/ and t2/...)"
        )

    env_value = os.environ.get(ARCHIVE_ENV)
    if env_value:
        env_path = Path(env_value).expanduser()
        if not env_path.exists():
            raise DataError(
                f"{ARCHIVE_ENV}={env_value} names a file that does not exist; "
                f"point it at a copy of {ARCHIVE_NAME} or unset it"
            )
        return _existing(env_path, ARCHIVE_SHA256, accept_mismatch)

    if not download_missing:
        raise DataError(
            f"dataset archive {target} is missing and downloading is off; "
            f"{_by_hand_hint(url)}"
        )
    # With a mismatch accepted the download is kept and the mismatch is
    # reported as a warning by verify_archive, as for a local copy.
    download(url, target, sha256=None if accept_mismatch else ARCHIVE_SHA256)
    if accept_mismatch:
        verify_archive(target, ARCHIVE_SHA256, accept_mismatch=True)
    return target
