"""Specification of cyclegan_mri.data.fetch: finding, downloading, verifying the archive.

Downloads go to a local http.server on 127.0.0.1; nothing touches the network.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

from cyclegan_mri.data import fetch
from cyclegan_mri.data.fetch import (
    ARCHIVE_ENV,
    ARCHIVE_NAME,
    ARCHIVE_SHA256,
    ARCHIVE_SIZE,
    DEFAULT_ARCHIVE,
    download,
    ensure_archive,
    sha256_of,
    verify_archive,
)
from cyclegan_mri.errors import DataError
from conftest import ROOT, archive_candidates, find_archive

GOOD = b"good payload " * 1000
BAD = b"this is not what was promised " * 100
CUT = b"0123456789" * 10_000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/good":
            self._send(GOOD)
        elif self.path == "/bad":
            self._send(BAD)
        elif self.path == "/real" and find_archive() is not None:
            self._send(find_archive().read_bytes())
        elif self.path == "/cut":
            # Announce the whole body, send half of it, then hang up.
            self.send_response(200)
            self.send_header("Content-Length", str(len(CUT)))
            self.end_headers()
            self.wfile.write(CUT[: len(CUT) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> str:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def real_archive(archive: Path) -> Path:
    """The real archive, found where every test finds it (``conftest.archive_candidates``)."""
    return archive


def test_the_tests_find_the_archive_where_the_readme_says(monkeypatch, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / ARCHIVE_NAME
    copy.parent.mkdir()
    copy.write_bytes(b"Rar!")
    monkeypatch.setenv(ARCHIVE_ENV, str(copy))
    assert archive_candidates()[:2] == [copy, ROOT / "datasets" / ARCHIVE_NAME]
    assert find_archive() == copy
    monkeypatch.delenv(ARCHIVE_ENV)
    assert archive_candidates()[0] == ROOT / "datasets" / ARCHIVE_NAME


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory (so DEFAULT_ARCHIVE is missing) and no env var.

    Downloads made by ensure_archive run without the progress bar, which
    would import Keras (and TensorFlow) for nothing.
    """
    monkeypatch.delenv(ARCHIVE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fetch, "download", functools.partial(fetch.download, progress=False))
    return tmp_path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


def _assert_one_line(error: pytest.ExceptionInfo[DataError]) -> None:
    assert "\n" not in str(error.value)


# --- constants and digest -------------------------------------------------

def test_constants_describe_the_published_archive() -> None:
    assert DEFAULT_ARCHIVE == Path("datasets") / "MRI+T1_T2+Dataset.RAR"
    assert len(ARCHIVE_SHA256) == 64 and ARCHIVE_SIZE == 1823691
    assert ARCHIVE_ENV == "CYCLEGAN_MRI_ARCHIVE"


def test_sha256_of_matches_hashlib_across_chunk_boundaries(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000  # larger than one read chunk
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_of(path) == _sha(data)


# --- download ---------------------------------------------------------------

def test_good_download_lands_under_final_name_without_part(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "dir" / "archive.RAR"
    result = download(f"{server}/good", dest, sha256=_sha(GOOD), progress=False)
    assert result == dest
    assert dest.read_bytes() == GOOD
    assert sha256_of(dest) == _sha(GOOD)
    assert _leftovers(dest.parent) == ["archive.RAR"]


def test_download_without_expected_digest_keeps_any_payload(server: str, tmp_path: Path) -> None:
    dest = download(f"{server}/bad", tmp_path / "a.RAR", sha256=None, progress=False)
    assert dest.read_bytes() == BAD


def test_checksum_mismatch_raises_and_leaves_nothing(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "archive.RAR"
    with pytest.raises(DataError, match="sha256") as error:
        download(f"{server}/bad", dest, sha256=_sha(GOOD), progress=False)
    _assert_one_line(error)
    assert "--accept-checksum" in str(error.value)
    assert _leftovers(tmp_path) == []


def test_connection_cut_short_raises_and_leaves_nothing(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "archive.RAR"
    with pytest.raises(DataError, match="cut short") as error:
        download(f"{server}/cut", dest, sha256=None, progress=False)
    _assert_one_line(error)
    assert _leftovers(tmp_path) == []


def test_http_error_says_how_to_get_the_file_by_hand(server: str, tmp_path: Path) -> None:
    url = f"{server}/missing"
    with pytest.raises(DataError) as error:
        download(url, tmp_path / "d" / "archive.RAR", progress=False)
    _assert_one_line(error)
    message = str(error.value)
    assert url in message and "--data PATH" in message and ARCHIVE_ENV in message
    assert _leftovers(tmp_path) == []


def test_ctrl_c_mid_download_removes_part_and_raises_data_error(
    monkeypatch: pytest.MonkeyPatch, server: str, tmp_path: Path
) -> None:
    real_urlopen = urllib.request.urlopen

    def interrupted_urlopen(*args: object, **kwargs: object):
        response = real_urlopen(*args, **kwargs)
        real_read = response.read
        calls = []

        def read(amt: int | None = None) -> bytes:
            calls.append(amt)
            if len(calls) > 1:
                raise KeyboardInterrupt
            return real_read(100)

        response.read = read
        return response

    monkeypatch.setattr(fetch.urllib.request, "urlopen", interrupted_urlopen)
    with pytest.raises(DataError, match="interrupted"):
        download(f"{server}/good", tmp_path / "archive.RAR", sha256=None, progress=False)
    assert _leftovers(tmp_path) == []


# --- verify_archive -----------------------------------------------------------

def test_real_archive_verifies(real_archive: Path) -> None:
    verify_archive(real_archive)
    assert real_archive.stat().st_size == ARCHIVE_SIZE


def test_tampered_archive_fails_unless_mismatch_accepted(real_archive: Path, tmp_path: Path) -> None:
    copy = tmp_path / ARCHIVE_NAME
    data = bytearray(real_archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))

    with pytest.raises(DataError) as error:
        verify_archive(copy)
    _assert_one_line(error)
    message = str(error.value)
    assert str(copy) in message and ARCHIVE_SHA256 in message
    assert sha256_of(copy) in message and "--accept-checksum" in message

    with pytest.warns(UserWarning, match="sha256"):
        verify_archive(copy, accept_mismatch=True)


def test_verify_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        verify_archive(tmp_path / "nope.RAR")


# --- ensure_archive -------------------------------------------------------------

def test_explicit_existing_archive_is_verified_and_returned(real_archive: Path, clean_env: Path) -> None:
    assert ensure_archive(real_archive, download_missing=False) == real_archive


def test_explicit_tampered_archive_is_refused(clean_env: Path) -> None:
    fake = clean_env / "fake.RAR"
    fake.write_bytes(b"Rar!\x1a\x07\x01\x00 but not the archive")
    with pytest.raises(DataError, match="--accept-checksum"):
        ensure_archive(fake, download_missing=False)
    with pytest.warns(UserWarning):
        assert ensure_archive(fake, download_missing=False, accept_mismatch=True) == fake


def test_a_file_that_is_not_a_rar_archive_is_named_as_such(clean_env: Path) -> None:
    fake = clean_env / "notes.RAR"
    fake.write_bytes(b"just some text")
    with pytest.raises(DataError, match="not a RAR archive"):
        ensure_archive(fake, download_missing=False, accept_mismatch=True)


def test_explicit_folder_is_returned_as_is(clean_env: Path) -> None:
    folder = clean_env / "extracted"
    (folder / "Tr1" / "TrainT1").mkdir(parents=True)
    assert ensure_archive(folder, download_missing=False) == folder


def test_missing_explicit_path_is_refused_without_download(server: str, clean_env: Path) -> None:
    missing = clean_env / "elsewhere" / "copy.RAR"
    with pytest.raises(DataError, match="does not exist") as error:
        ensure_archive(missing, url=f"{server}/good")
    _assert_one_line(error)
    assert "--data" in str(error.value) and "trainA/ and trainB/" in str(error.value)
    assert _leftovers(clean_env) == []


def test_env_var_names_the_archive_when_default_is_missing(
    real_archive: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = clean_env / "copy.RAR"
    shutil.copyfile(real_archive, copy)
    monkeypatch.setenv(ARCHIVE_ENV, str(copy))
    assert ensure_archive(download_missing=False) == copy
    assert ensure_archive(DEFAULT_ARCHIVE, download_missing=False) == copy


def test_env_var_naming_a_missing_file_is_a_data_error(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ARCHIVE_ENV, str(clean_env / "gone.RAR"))
    with pytest.raises(DataError, match=ARCHIVE_ENV):
        ensure_archive()


def test_nothing_available_and_no_download_is_a_data_error(clean_env: Path) -> None:
    with pytest.raises(DataError) as error:
        ensure_archive(download_missing=False)
    _assert_one_line(error)
    assert _leftovers(clean_env) == []


def test_missing_default_is_downloaded_and_verified(
    real_archive: Path, server: str, clean_env: Path
) -> None:
    result = ensure_archive(url=f"{server}/real")
    assert result == DEFAULT_ARCHIVE
    assert sha256_of(clean_env / DEFAULT_ARCHIVE) == ARCHIVE_SHA256
    assert _leftovers(clean_env) == sorted(["datasets", ARCHIVE_NAME])
    # A second call finds the file and does not need the server.
    assert ensure_archive(download_missing=False) == DEFAULT_ARCHIVE


def test_downloaded_default_with_wrong_digest_is_discarded_unless_accepted(
    server: str, clean_env: Path
) -> None:
    with pytest.raises(DataError, match="sha256"):
        ensure_archive(url=f"{server}/good")
    assert not (clean_env / DEFAULT_ARCHIVE).exists()
    assert not list(clean_env.rglob("*.part"))

    with pytest.warns(UserWarning, match="sha256"):
        result = ensure_archive(url=f"{server}/good", accept_mismatch=True)
    assert (clean_env / result).read_bytes() == GOOD
