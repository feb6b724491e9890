"""Tests of tinygrad_edu.data: loading, validating, finding and downloading the cat / non-cat
files (from a real HTTP server on 127.0.0.1), and the synthetic stand-in.

Most tests write tiny HDF5 files (a handful of 64x64x3 images) into pytest's ``tmp_path``; the
tests of the real files skip when those are not on the search path.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h5py
import numpy as np
import pytest

from tinygrad_edu import data
from tinygrad_edu.data import (
    CACHE_ENV_VAR,
    DATA_ENV_VAR,
    MIRRORS,
    SHA256,
    TEST_FILE,
    TRAIN_FILE,
    CatDataset,
    DatasetFormatError,
    DatasetNotFoundError,
    cache_dir,
    candidate_dirs,
    download_cat_files,
    find_data_dir,
    load_cat_dataset,
    load_cat_or_synthetic,
    locate_cat_files,
    synthetic_cat_dataset,
)

N_TRAIN_SMALL, N_TEST_SMALL = 5, 3
TRAIN_LABELS = np.array([0, 1, 0, 0, 1])
TEST_LABELS = np.array([1, 0, 1])
# A pixel of image 0 at (row 1, column 2, channel 1) lands, flattened in C order, in row
# (1 * 64 + 2) * 3 + 1 of x's column 0.
MARKED_PIXEL = (1, 2, 1)
MARKED_ROW = (1 * 64 + 2) * 3 + 1


# --------------------------------------------------------------------------------------------
# Helpers: write small files, good or deliberately broken
# --------------------------------------------------------------------------------------------


def good_split(split: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays of a small valid file: keys as in the real data, a few random images.

    Train image 0 is black except pixel (0, 0, 0) = 255 and MARKED_PIXEL = 51, so the scaling
    (255 -> 1.0, 51 -> 0.2) and the flattening order can be checked exactly.
    """
    rng = np.random.default_rng(seed)
    labels = TRAIN_LABELS if split == "train" else TEST_LABELS
    x = rng.integers(0, 256, size=(labels.size, 64, 64, 3), dtype=np.uint8)
    if split == "train":
        x[0] = 0
        x[0, 0, 0, 0] = 255
        x[(0, *MARKED_PIXEL)] = 51
    return {
        f"{split}_set_x": x,
        f"{split}_set_y": labels.astype(np.int64),
        "list_classes": np.array([b"non-cat", b"cat"]),
    }


def write_h5(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        for key, value in arrays.items():
            h5[key] = value
    return path


def write_pair(
    folder: Path,
    train: dict[str, np.ndarray] | None = None,
    test: dict[str, np.ndarray] | None = None,
    seed: int = 0,
) -> Path:
    """Write a train / test file pair into ``folder`` (valid unless overridden) and return it."""
    write_h5(folder / TRAIN_FILE, good_split("train", seed) if train is None else train)
    write_h5(folder / TEST_FILE, good_split("test", seed) if test is None else test)
    return folder


@pytest.fixture
def good_dir(tmp_path: Path) -> Path:
    return write_pair(tmp_path / "good")


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data anywhere on the default search path: env var unset, empty cwd, empty cache (the
    conftest points $TINYGRAD_EDU_CACHE at an empty folder of this test's own)."""
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    cwd = tmp_path / "empty_cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# --------------------------------------------------------------------------------------------
# Loading good files
# --------------------------------------------------------------------------------------------


def test_good_files_load_with_samples_as_columns(good_dir: Path) -> None:
    ds = load_cat_dataset(good_dir)
    assert isinstance(ds, CatDataset)
    assert CatDataset._fields == ("x_train", "y_train", "x_test", "y_test", "classes")
    assert ds.x_train.shape == (12288, N_TRAIN_SMALL)
    assert ds.y_train.shape == (1, N_TRAIN_SMALL)
    assert ds.x_test.shape == (12288, N_TEST_SMALL)
    assert ds.y_test.shape == (1, N_TEST_SMALL)
    for array in ds[:4]:
        assert array.dtype == np.float64
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0
    assert ds.x_test.min() >= 0.0 and ds.x_test.max() <= 1.0
    assert ds.x_train.flags.c_contiguous and ds.x_test.flags.c_contiguous


def test_pixels_are_scaled_exactly_and_flattened_in_c_order(good_dir: Path) -> None:
    ds = load_cat_dataset(good_dir)
    first_image = ds.x_train[:, 0]
    assert first_image[0] == 1.0  # 255 / 255
    assert first_image[MARKED_ROW] == 0.2  # 51 / 255
    np.testing.assert_array_equal(np.flatnonzero(first_image), [0, MARKED_ROW])
    # Every column is its image flattened in C order, divided by 255.
    raw = good_split("train")["train_set_x"]
    np.testing.assert_array_equal(ds.x_train, raw.reshape(N_TRAIN_SMALL, -1).T / 255)


def test_labels_are_float_row_vectors_and_classes_str(good_dir: Path) -> None:
    ds = load_cat_dataset(good_dir)
    np.testing.assert_array_equal(ds.y_train, TRAIN_LABELS[None, :].astype(float))
    np.testing.assert_array_equal(ds.y_test, TEST_LABELS[None, :].astype(float))
    assert ds.classes == ("non-cat", "cat")
    assert all(type(name) is str for name in ds.classes)


def test_float32_request_gives_float32_everywhere(good_dir: Path) -> None:
    ds = load_cat_dataset(good_dir, dtype=np.float32)
    assert [a.dtype for a in ds[:4]] == [np.dtype(np.float32)] * 4
    assert ds.x_train[MARKED_ROW, 0] == np.float32(0.2)


def test_labels_stored_as_one_by_m_are_accepted(tmp_path: Path) -> None:
    train = good_split("train")
    train["train_set_y"] = train["train_set_y"].reshape(1, -1)
    ds = load_cat_dataset(write_pair(tmp_path / "d", train=train))
    np.testing.assert_array_equal(ds.y_train, TRAIN_LABELS[None, :].astype(float))


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool])
def test_non_float_dtype_is_a_type_error(good_dir: Path, dtype: type) -> None:
    with pytest.raises(TypeError, match="floating dtype"):
        load_cat_dataset(good_dir, dtype=dtype)
    with pytest.raises(TypeError, match="floating dtype"):
        synthetic_cat_dataset(0, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Broken files: the right error type, naming the file and the problem
# --------------------------------------------------------------------------------------------


def test_error_types_subclass_the_builtin_ones() -> None:
    assert issubclass(DatasetNotFoundError, FileNotFoundError)
    assert issubclass(DatasetFormatError, ValueError)


def test_missing_key_names_file_key_and_keys_present(tmp_path: Path) -> None:
    train = good_split("train")
    del train["train_set_y"]
    folder = write_pair(tmp_path / "d", train=train)
    with pytest.raises(DatasetFormatError, match=r"train_catvnoncat\.h5.*'train_set_y'") as err:
        load_cat_dataset(folder)
    assert "keys present: ['list_classes', 'train_set_x']" in str(err.value)


@pytest.mark.parametrize("key", ["train_set_x", "train_set_y", "list_classes"])
@pytest.mark.parametrize("empty", ["zero-length", "null-dataspace"])
def test_an_empty_dataset_is_a_format_error_naming_it(tmp_path: Path, key: str,
                                                       empty: str) -> None:
    train = good_split("train")
    value = train[key]
    train[key] = (np.zeros((0, *value.shape[1:]), dtype=value.dtype) if empty == "zero-length"
                  else h5py.Empty(value.dtype))
    folder = write_pair(tmp_path / "d", train=train)
    with pytest.raises(DatasetFormatError, match=rf"train_catvnoncat\.h5: dataset '{key}' is "
                                                 rf"empty"):
        load_cat_dataset(folder)


@pytest.mark.parametrize("key", ["train_set_x", "train_set_y"])
def test_a_dataset_stored_as_a_group_is_a_format_error_saying_so(tmp_path: Path,
                                                                  key: str) -> None:
    folder = write_pair(tmp_path / "d")
    with h5py.File(folder / TRAIN_FILE, "a") as h5:
        values = h5[key][()]
        del h5[key]
        h5.create_group(key).create_dataset("values", data=values)  # the array one level down
    with pytest.raises(DatasetFormatError, match=rf"'{key}' is an HDF5 group, not a dataset"):
        load_cat_dataset(folder)


@pytest.mark.parametrize(
    "shape",
    [(5, 64, 64), (5, 32, 32, 3), (5, 12288)],
    ids=["3-D", "wrong-pixel-count", "already-flat"],
)
def test_wrong_image_shape_names_the_shape(tmp_path: Path, shape: tuple[int, ...]) -> None:
    train = good_split("train")
    train["train_set_x"] = np.zeros(shape, dtype=np.uint8)
    folder = write_pair(tmp_path / "d", train=train)
    pattern = rf"train_catvnoncat\.h5.*'train_set_x'.*shape {re.escape(str(shape))}"
    with pytest.raises(DatasetFormatError, match=pattern):
        load_cat_dataset(folder)


def test_non_uint8_pixels_are_refused(tmp_path: Path) -> None:
    train = good_split("train")
    train["train_set_x"] = train["train_set_x"] / 255.0  # already scaled: /255 again is wrong
    with pytest.raises(DatasetFormatError, match=r"'train_set_x'.*float64.*uint8"):
        load_cat_dataset(write_pair(tmp_path / "d", train=train))


def test_label_count_differing_from_image_count_names_both(tmp_path: Path) -> None:
    test = good_split("test")
    test["test_set_y"] = np.array([1, 0, 1, 1])
    folder = write_pair(tmp_path / "d", test=test)
    with pytest.raises(DatasetFormatError, match=r"test_catvnoncat\.h5.*4 labels.*hold 3"):
        load_cat_dataset(folder)


def test_labels_of_wrong_shape_are_refused(tmp_path: Path) -> None:
    test = good_split("test")
    test["test_set_y"] = np.ones((3, 2), dtype=np.int64)
    with pytest.raises(DatasetFormatError, match=r"'test_set_y' has shape \(3, 2\)"):
        load_cat_dataset(write_pair(tmp_path / "d", test=test))


def test_labels_other_than_zero_one_are_named(tmp_path: Path) -> None:
    train = good_split("train")
    train["train_set_y"] = np.array([0, 1, 2, 0, 2])
    folder = write_pair(tmp_path / "d", train=train)
    with pytest.raises(DatasetFormatError, match=r"train_catvnoncat\.h5.*other than 0.*\[2\]"):
        load_cat_dataset(folder)


def test_list_classes_must_have_two_entries(tmp_path: Path) -> None:
    test = good_split("test")
    test["list_classes"] = np.array([b"non-cat", b"cat", b"dog"])
    with pytest.raises(DatasetFormatError, match=r"test_catvnoncat\.h5.*'list_classes' has 3"):
        load_cat_dataset(write_pair(tmp_path / "d", test=test))


def test_train_and_test_image_shapes_must_agree(tmp_path: Path) -> None:
    test = good_split("test")
    test["test_set_x"] = np.zeros((3, 32, 128, 3), dtype=np.uint8)  # 12288 values, other shape
    with pytest.raises(DatasetFormatError, match=r"\(64, 64, 3\).*\(32, 128, 3\)"):
        load_cat_dataset(write_pair(tmp_path / "d", test=test))


def test_random_bytes_are_not_hdf5(good_dir: Path) -> None:
    (good_dir / TEST_FILE).write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(DatasetFormatError, match=r"test_catvnoncat\.h5: not a readable HDF5"):
        load_cat_dataset(good_dir)


def test_truncated_file_is_not_readable_hdf5(good_dir: Path) -> None:
    path = good_dir / TRAIN_FILE
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DatasetFormatError, match=r"train_catvnoncat\.h5: not a readable HDF5"):
        load_cat_dataset(good_dir)


def test_missing_data_dir_says_it_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError, match=r"nowhere \(does not exist\).*--data-dir"):
        load_cat_dataset(missing)


def test_data_dir_without_the_files_names_what_is_missing(tmp_path: Path) -> None:
    folder = tmp_path / "half"
    write_h5(folder / TRAIN_FILE, good_split("train"))
    with pytest.raises(DatasetNotFoundError,
                       match=r"half \(missing test_catvnoncat\.h5\).*does not hold both"):
        load_cat_dataset(folder)


def test_env_var_without_the_files_is_an_error_not_a_switch(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pair(isolated / "datasets")  # good files elsewhere must not be used instead
    env_dir = tmp_path / "env_half"
    write_h5(env_dir / TEST_FILE, good_split("test"))
    monkeypatch.setenv(DATA_ENV_VAR, str(env_dir))
    with pytest.raises(DatasetNotFoundError) as err:
        find_data_dir()
    message = str(err.value)
    assert f"${DATA_ENV_VAR}" in message and f"{env_dir} (missing {TRAIN_FILE})" in message
    assert "\n" not in message
    with pytest.raises(DatasetNotFoundError, match="env_half"):
        load_cat_dataset()


# --------------------------------------------------------------------------------------------
# Search order
# --------------------------------------------------------------------------------------------


def test_candidate_dirs_order(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert candidate_dirs() == [isolated / "datasets", cache_dir()]
    assert candidate_dirs(cache=tmp_path / "c") == [isolated / "datasets", tmp_path / "c"]
    env_dir = tmp_path / "env"
    monkeypatch.setenv(DATA_ENV_VAR, str(env_dir))
    assert candidate_dirs() == [env_dir]  # a named folder is the whole search path
    assert candidate_dirs(tmp_path / "explicit") == [tmp_path / "explicit"]


def test_the_package_never_looks_beside_the_checkout(isolated: Path) -> None:
    assert not hasattr(data, "SHARED_DATA_DIR")
    assert all("shared" not in folder.parts for folder in candidate_dirs())


def test_cache_dir_follows_its_variable_else_pooch(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_ENV_VAR)
    assert cache_dir() == Path(data.pooch.os_cache("tinygrad_edu"))


def test_explicit_dir_beats_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write_pair(tmp_path / "explicit", seed=1)
    monkeypatch.setenv(DATA_ENV_VAR, str(write_pair(tmp_path / "env", seed=2)))
    assert find_data_dir(explicit) == explicit
    written = good_split("test", seed=1)["test_set_x"]
    np.testing.assert_array_equal(load_cat_dataset(explicit).x_test, written.reshape(3, -1).T / 255)


def test_env_var_beats_cwd_datasets(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pair(isolated / "datasets", seed=1)
    env_dir = write_pair(tmp_path / "env", seed=2)
    monkeypatch.setenv(DATA_ENV_VAR, str(env_dir))
    assert find_data_dir() == env_dir


def test_cwd_datasets_beats_the_cache(isolated: Path) -> None:
    assert find_data_dir() is None
    cached = write_pair(cache_dir(), seed=2)
    assert find_data_dir() == cached
    write_pair(isolated / "datasets", seed=1)
    assert find_data_dir() == isolated / "datasets"


def test_explicit_dir_without_files_raises_instead_of_falling_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(write_pair(tmp_path / "env")))
    empty = tmp_path / "empty"
    empty.mkdir()
    for call in (find_data_dir, load_cat_dataset, load_cat_or_synthetic):
        with pytest.raises(DatasetNotFoundError, match="empty"):
            call(empty)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_cat_or_synthetic(tmp_path / "typo")


def test_load_cat_or_synthetic_prefers_real_files(good_dir: Path) -> None:
    ds, source = load_cat_or_synthetic(good_dir)
    assert ds.x_train.shape == (12288, N_TRAIN_SMALL)
    assert str(good_dir) in source and "SYNTHETIC" not in source


def test_load_cat_or_synthetic_gives_the_stand_in_only_when_asked(good_dir: Path) -> None:
    ds, source = load_cat_or_synthetic(good_dir, dtype=np.float32, seed=3, synthetic=True)
    assert source.startswith("SYNTHETIC")
    expected = synthetic_cat_dataset(3, np.float32)
    for got, want in zip(ds[:4], expected[:4], strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.float32


def test_nothing_found_offline_does_not_fall_back(isolated: Path, tmp_path: Path) -> None:
    nowhere = ["http://127.0.0.1:9/a/"]  # the discard port: nobody listens there
    with pytest.raises(DatasetNotFoundError):
        locate_cat_files(mirrors=nowhere, progress=False)
    with pytest.raises(DatasetNotFoundError, match="downloads are switched off"):
        load_cat_dataset(download=False)


def test_tests_cannot_download_from_the_real_mirrors(isolated: Path) -> None:
    """The conftest guard: with no data anywhere, a default load would try the mirrors; in the
    test suite it fails at once instead of reaching the internet."""
    with pytest.raises(RuntimeError, match="tests may only download from a server on 127.0.0.1"):
        load_cat_dataset(progress=False)
    assert list(cache_dir().glob("*.h5")) == []


# --------------------------------------------------------------------------------------------
# Downloads, from a real HTTP server on 127.0.0.1
# --------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


class FileServer:
    """http.server in a thread, serving the folder `root`: a mirror is a subfolder of it."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(QuietHandler, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def mirror(self, folder: str) -> str:
        return f"http://127.0.0.1:{self.port}/{folder}/"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The two files to serve and their SHA-256: copies of the real ones (from
    $TINYGRAD_EDU_DATA) with the pinned hashes, or, where those are absent, small valid fakes
    with their own hashes, so that the download tests always run."""
    source = tmp_path / "source"
    real_dir = Path(os.environ.get(DATA_ENV_VAR, "") or tmp_path / "no_real_data")
    if (real_dir / TRAIN_FILE).is_file() and (real_dir / TEST_FILE).is_file():
        source.mkdir()
        for name in (TRAIN_FILE, TEST_FILE):
            shutil.copyfile(real_dir / name, source / name)
        hashes = dict(SHA256)
    else:
        write_pair(source)
        hashes = {name: sha256_of(source / name) for name in (TRAIN_FILE, TEST_FILE)}
    return source, hashes


@pytest.fixture
def server(tmp_path: Path, served: tuple[Path, dict[str, str]]) -> Iterator[FileServer]:
    """Mirrors: /good/ serves both files, /empty/ answers 404, /corrupt/ serves wrong bytes."""
    source, _ = served
    root = tmp_path / "www"
    shutil.copytree(source, root / "good")
    (root / "empty").mkdir()
    (root / "corrupt").mkdir()
    for name in (TRAIN_FILE, TEST_FILE):
        good = (source / name).read_bytes()
        (root / "corrupt" / name).write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    running = FileServer(root)
    yield running
    running.stop()


def test_first_download_then_the_cache_with_the_server_stopped(
    isolated: Path, tmp_path: Path, served: tuple[Path, dict[str, str]], server: FileServer
) -> None:
    source, hashes = served
    cache = tmp_path / "cache"
    first = load_cat_dataset(cache=cache, mirrors=[server.mirror("good")], sha256=hashes)
    for name in (TRAIN_FILE, TEST_FILE):
        assert (cache / name).read_bytes() == (source / name).read_bytes()
    expected = load_cat_dataset(source)
    for got, want in zip(first[:4], expected[:4], strict=True):
        np.testing.assert_array_equal(got, want)

    server.stop()
    again = load_cat_dataset(cache=cache, mirrors=[server.mirror("good")], sha256=hashes)
    np.testing.assert_array_equal(again.x_train, expected.x_train)
    assert locate_cat_files(cache=cache, mirrors=[server.mirror("good")], sha256=hashes) == cache


def test_default_cache_is_used_when_none_is_given(
    isolated: Path, served: tuple[Path, dict[str, str]], server: FileServer
) -> None:
    _, hashes = served
    folder = locate_cat_files(mirrors=[server.mirror("good")], sha256=hashes, progress=False)
    assert folder == cache_dir() and find_data_dir() == cache_dir()


def test_first_mirror_404_then_the_second_serves(
    isolated: Path, tmp_path: Path, served: tuple[Path, dict[str, str]], server: FileServer
) -> None:
    _, hashes = served
    cache = tmp_path / "cache"
    mirrors = [server.mirror("empty"), server.mirror("good")]
    folder, failures = download_cat_files(cache, mirrors, hashes, progress=False)
    assert folder == cache
    assert failures == [f"{server.mirror('empty')}{name}: HTTP 404 File not found"
                        for name in (TRAIN_FILE, TEST_FILE)]
    assert sha256_of(cache / TRAIN_FILE) == hashes[TRAIN_FILE]
    assert sha256_of(cache / TEST_FILE) == hashes[TEST_FILE]


def test_checksum_mismatch_keeps_nothing_and_the_next_mirror_is_tried(
    isolated: Path, tmp_path: Path, served: tuple[Path, dict[str, str]], server: FileServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, hashes = served
    cache = tmp_path / "cache"
    folder, failures = download_cat_files(cache, [server.mirror("corrupt")], hashes,
                                          progress=False)
    assert folder is None
    assert list(cache.iterdir()) == []  # not even a temporary file
    assert len(failures) == 1 and "checksum mismatch" in failures[0]
    assert "discarded, nothing kept" in failures[0] and hashes[TRAIN_FILE] in failures[0]

    folder, failures = download_cat_files(
        cache, [server.mirror("corrupt"), server.mirror("good")], hashes, progress=False)
    assert folder == cache and len(failures) == 2
    assert all("checksum mismatch" in line for line in failures)
    said = [r.getMessage() for r in caplog.records if r.name == "tinygrad_edu.data"]
    good = server.mirror("good")
    assert said == [f"download failed: {line}; {name} came from {good}{name} instead"
                    for line, name in zip(failures, (TRAIN_FILE, TEST_FILE), strict=True)]
    assert sorted(p.name for p in cache.iterdir()) == sorted([TEST_FILE, TRAIN_FILE])
    assert sha256_of(cache / TRAIN_FILE) == hashes[TRAIN_FILE]


def test_a_cached_file_with_the_wrong_hash_is_downloaded_again(
    isolated: Path, tmp_path: Path, served: tuple[Path, dict[str, str]], server: FileServer
) -> None:
    _, hashes = served
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / TRAIN_FILE).write_bytes(b"not the file")
    folder, _ = download_cat_files(cache, [server.mirror("good")], hashes, progress=False)
    assert folder == cache and sha256_of(cache / TRAIN_FILE) == hashes[TRAIN_FILE]


def test_every_mirror_down_gives_one_clear_message(
    isolated: Path, tmp_path: Path, served: tuple[Path, dict[str, str]], server: FileServer
) -> None:
    _, hashes = served
    cache = tmp_path / "cache"
    mirrors = [server.mirror("empty"), server.mirror("good")]
    server.stop()
    with pytest.raises(DatasetNotFoundError) as err:
        load_cat_dataset(cache=cache, mirrors=mirrors, sha256=hashes, progress=False)
    message = str(err.value)
    assert "neither found nor downloaded" in message
    assert f"{isolated / 'datasets'} (does not exist)" in message  # where it looked
    assert re.search(re.escape(str(cache)) + r" \((does not exist|missing " + TRAIN_FILE + ")",
                     message)
    for mirror in mirrors:  # which mirrors failed, and why
        assert re.search(re.escape(mirror + TRAIN_FILE) + r": .*[Rr]efused", message)
    assert "--data-dir DIR" in message and "--synthetic" in message  # the two ways out
    assert not cache.exists() or list(cache.iterdir()) == []


@pytest.mark.skipif(not os.environ.get(DATA_ENV_VAR), reason=f"{DATA_ENV_VAR} not set")
def test_the_pinned_hashes_are_those_of_the_real_files() -> None:
    folder = Path(os.environ[DATA_ENV_VAR])
    assert {name: sha256_of(folder / name) for name in (TRAIN_FILE, TEST_FILE)} == dict(SHA256)
    assert len(MIRRORS) == 2 and all(m.startswith("https://") and m.endswith("/")
                                     for m in MIRRORS)


# --------------------------------------------------------------------------------------------
# The synthetic stand-in
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> CatDataset:
    return synthetic_cat_dataset(seed=0)


def test_synthetic_is_deterministic_for_a_seed(synthetic: CatDataset) -> None:
    again = synthetic_cat_dataset(seed=0)
    for got, want in zip(again[:4], synthetic[:4], strict=True):
        np.testing.assert_array_equal(got, want)


def test_synthetic_seeds_differ(synthetic: CatDataset) -> None:
    other = synthetic_cat_dataset(seed=1)
    assert not np.array_equal(other.x_train, synthetic.x_train)
    assert not np.array_equal(other.y_train, synthetic.y_train)
    assert not np.array_equal(other.x_test, synthetic.x_test)


def test_synthetic_has_the_real_format(synthetic: CatDataset) -> None:
    assert synthetic.x_train.shape == (12288, 209)
    assert synthetic.y_train.shape == (1, 209)
    assert synthetic.x_test.shape == (12288, 50)
    assert synthetic.y_test.shape == (1, 50)
    assert synthetic.classes == ("non-cat", "cat")
    assert [a.dtype for a in synthetic[:4]] == [np.dtype(np.float64)] * 4
    assert synthetic.x_train.flags.c_contiguous


def test_synthetic_class_balance_is_exact_and_shuffled(synthetic: CatDataset) -> None:
    for y, n_cats in ((synthetic.y_train, 72), (synthetic.y_test, 33)):
        assert set(np.unique(y)) == {0.0, 1.0}
        assert int(y.sum()) == n_cats
        # Shuffled: the cats are not simply the first (or last) n_cats samples.
        assert 0 < y[0, :n_cats].sum() < n_cats


def test_synthetic_pixels_are_8_bit_values_in_unit_range(synthetic: CatDataset) -> None:
    for x in (synthetic.x_train, synthetic.x_test):
        assert x.min() >= 0.0 and x.max() <= 1.0
        levels = x * 255
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
        assert np.unique(levels.round()).size > 100  # a real spread of grey levels, not 0/1


def test_synthetic_float32_request_is_honoured(synthetic: CatDataset) -> None:
    small = synthetic_cat_dataset(seed=0, dtype=np.float32)
    assert [a.dtype for a in small[:4]] == [np.dtype(np.float32)] * 4
    np.testing.assert_array_equal(small.x_train, synthetic.x_train.astype(np.float32))


def ridge_test_accuracy(ds: CatDataset, penalty: float = 1.0) -> float:
    """Test accuracy of a ridge-regression linear classifier (targets +-1) fit on the train set.

    Solved in its dual form, a 209 x 209 system, because there are far more pixels than images.
    """
    mean = ds.x_train.mean(axis=1, keepdims=True)
    x_train, x_test = ds.x_train - mean, ds.x_test - mean
    targets = 2.0 * ds.y_train[0] - 1.0
    offset = targets.mean()
    gram = x_train.T @ x_train
    dual = np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), targets - offset)
    scores = x_test.T @ (x_train @ dual) + offset
    return float(np.mean((scores > 0) == (ds.y_test[0] == 1)))


def test_synthetic_is_learnable_but_not_trivial(synthetic: CatDataset) -> None:
    # Always answering "cat", the test majority, scores 33/50 = 66 %. On seed 0 the linear
    # classifier scores 90 % (82-94 % over seeds 0-9); with the cat pattern removed it scores
    # 38-48 %, so this fails if the stand-in stops carrying a learnable signal.
    accuracy = ridge_test_accuracy(synthetic)
    assert accuracy >= 0.80, f"linear test accuracy {accuracy:.2f}: stand-in not learnable"
    assert accuracy < 1.0, "linear classifier is perfect: the stand-in is too easy"


# --------------------------------------------------------------------------------------------
# The real files, when present
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> CatDataset:
    """The real files, from $TINYGRAD_EDU_DATA only: tests never download them."""
    folder = os.environ.get(DATA_ENV_VAR, "")
    if not folder:
        pytest.skip(f"real cat/non-cat files not available (set {DATA_ENV_VAR}; the conftest "
                    f"sets it from ../shared/datasets when that folder exists)")
    return load_cat_dataset(folder, download=False)


def test_real_files_have_the_documented_content(real: CatDataset) -> None:
    assert real.x_train.shape == (12288, 209)
    assert real.y_train.shape == (1, 209)
    assert real.x_test.shape == (12288, 50)
    assert real.y_test.shape == (1, 50)
    assert int(real.y_train.sum()) == 72
    assert int(real.y_test.sum()) == 33
    assert real.classes == ("non-cat", "cat")
    assert real.x_train.max() == 1.0 and real.x_train.min() == 0.0
