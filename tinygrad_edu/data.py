"""Cat / non-cat images: load the real HDF5 files, or build a synthetic stand-in.

The data set is the classic course one: 64x64 RGB images, 209 for training and 50 for testing,
labelled 1 = cat and 0 = non-cat. Two files hold it:

* ``train_catvnoncat.h5`` with ``train_set_x`` (209, 64, 64, 3) uint8, ``train_set_y`` (209,)
  and ``list_classes`` (2,) bytes ``[b'non-cat', b'cat']``;
* ``test_catvnoncat.h5`` with ``test_set_x`` (50, 64, 64, 3), ``test_set_y`` (50,) and
  ``list_classes``.

Layout of what this module returns (see :class:`CatDataset`): one image per COLUMN, one pixel
channel per row, so ``x`` is ``(12288, m)`` and labels are ``(1, m)``. That is the convention of
the course this project follows, where a layer computes ``W @ x + b`` for all m images at once.
Pixels are scaled from 0..255 to [0, 1].

Where the files are looked for (:func:`candidate_dirs`), in this order, the first folder holding
both files wins:

1. ``data_dir`` when a caller passes it (scripts expose it as ``--data-dir``); then ONLY that
   folder is searched, so a typo is an error rather than a silent switch to other data;
2. the folder named by the environment variable ``TINYGRAD_EDU_DATA``, if set;
3. ``./datasets`` relative to the current working directory;
4. ``<repo root>/../shared/datasets``: the layout in which developers and CI keep the shared
   data folder beside the checkout (``SHARED_DATA_DIR`` below).

The files are never copied into the repository. Where they are absent,
:func:`load_cat_or_synthetic` falls back to :func:`synthetic_cat_dataset`, a deterministic
stand-in with the same shapes and class balance that is clearly NOT cat photos.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
from numpy.typing import DTypeLike

__all__ = [
    "DATA_ENV_VAR",
    "SHARED_DATA_DIR",
    "TEST_FILE",
    "TRAIN_FILE",
    "CatDataset",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "candidate_dirs",
    "find_data_dir",
    "load_cat_dataset",
    "load_cat_or_synthetic",
    "synthetic_cat_dataset",
]

DATA_ENV_VAR = "TINYGRAD_EDU_DATA"
TRAIN_FILE = "train_catvnoncat.h5"
TEST_FILE = "test_catvnoncat.h5"

# The last entry of the search path: the shared data folder beside the checkout. A module-level
# name (read at call time) so tests can point it elsewhere and see the "nothing found" case.
SHARED_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

IMAGE_SHAPE = (64, 64, 3)
N_FEATURES = 64 * 64 * 3  # 12288 values per flattened image
CLASSES = ("non-cat", "cat")

# Sizes and class balance of the real files, which the synthetic stand-in reproduces exactly.
N_TRAIN, N_TRAIN_CATS = 209, 72
N_TEST, N_TEST_CATS = 50, 33


class CatDataset(NamedTuple):
    """The cat / non-cat data, samples as columns.

    Attributes:
        x_train: ``(12288, 209)`` pixels in [0, 1], one flattened image per column.
        y_train: ``(1, 209)`` labels, 1.0 = cat, 0.0 = non-cat.
        x_test: ``(12288, 50)`` pixels in [0, 1].
        y_test: ``(1, 50)`` labels.
        classes: class names by label, ``('non-cat', 'cat')``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]


class DatasetNotFoundError(FileNotFoundError):
    """The cat / non-cat files are not in any folder of the search path."""


class DatasetFormatError(ValueError):
    """A data file exists but is not what this module expects (corrupt, wrong keys or shapes)."""


# --------------------------------------------------------------------------------------------
# Finding the files
# --------------------------------------------------------------------------------------------


def candidate_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Return the folders searched for the data files, in search order.

    An explicit ``data_dir`` is the whole search path. Otherwise: ``$TINYGRAD_EDU_DATA`` (if
    set and non-empty), ``./datasets`` under the current working directory, and
    ``SHARED_DATA_DIR``. Duplicates are dropped so error messages list each folder once.
    """
    if data_dir is not None:
        return [Path(data_dir).expanduser()]

    candidates: list[Path] = []
    env_dir = os.environ.get(DATA_ENV_VAR, "").strip()
    if env_dir:
        candidates.append(Path(env_dir).expanduser())
    # Resolved now rather than at import, so the folder follows the caller's working directory.
    candidates.append(Path.cwd() / "datasets")
    candidates.append(SHARED_DATA_DIR)

    unique: list[Path] = []
    seen: set[Path] = set()
    for folder in candidates:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(folder)
    return unique


def _has_both_files(folder: Path) -> bool:
    return (folder / TRAIN_FILE).is_file() and (folder / TEST_FILE).is_file()


def find_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the first folder of :func:`candidate_dirs` holding both files, or ``None``."""
    for folder in candidate_dirs(data_dir):
        if _has_both_files(folder):
            return folder
    return None


def _describe_folder(folder: Path) -> str:
    """Say why ``folder`` did not qualify, for the not-found message."""
    if not folder.exists():
        return f"{folder} (does not exist)"
    if not folder.is_dir():
        return f"{folder} (is not a folder)"
    missing = [name for name in (TRAIN_FILE, TEST_FILE) if not (folder / name).is_file()]
    return f"{folder} (missing {', '.join(missing)})"


def _not_found_error(data_dir: str | os.PathLike[str] | None) -> DatasetNotFoundError:
    """Build the error for files absent from every candidate folder, with how to fix it."""
    folders = candidate_dirs(data_dir)
    if data_dir is not None:
        folder = folders[0]
        if not folder.exists():
            problem = f"data_dir {folder} does not exist."
        else:
            problem = f"data_dir {_describe_folder(folder)} does not hold both data files."
        return DatasetNotFoundError(
            f"{problem} Pass data_dir / --data-dir the folder that contains {TRAIN_FILE} and "
            f"{TEST_FILE}, or leave it out to search ${DATA_ENV_VAR}, ./datasets and "
            f"{SHARED_DATA_DIR}."
        )
    looked_in = "\n".join(f"  - {_describe_folder(folder)}" for folder in folders)
    return DatasetNotFoundError(
        f"cat/non-cat data files ({TRAIN_FILE}, {TEST_FILE}) not found. Looked in:\n"
        f"{looked_in}\n"
        f"To fix: pass data_dir=... (scripts: --data-dir PATH) naming the folder that holds "
        f"them, or set the environment variable {DATA_ENV_VAR}=/path/to/folder, or use the "
        f"synthetic stand-in (synthetic_cat_dataset() or load_cat_or_synthetic())."
    )


# --------------------------------------------------------------------------------------------
# Reading and checking the files
# --------------------------------------------------------------------------------------------


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, refusing non-floating ones."""
    resolved = np.dtype(dtype)
    if not np.issubdtype(resolved, np.floating):
        # Integer pixels would truncate the /255 scaling to 0 or 1; fail before any work.
        raise TypeError(
            f"dtype must be a floating dtype such as np.float64 or np.float32, got {resolved}; "
            f"pixels are scaled to [0, 1] and labels become 0.0 / 1.0."
        )
    return resolved


def _read_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read and check one file; return raw images (m, H, W, C), labels (m,) and class names.

    ``split`` is ``"train"`` or ``"test"``, the prefix of the file's keys.
    """
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    try:
        with h5py.File(path, "r") as h5:
            present = sorted(h5.keys())
            for key in (x_key, y_key, "list_classes"):
                item = h5.get(key)
                if isinstance(item, h5py.Group):
                    raise DatasetFormatError(
                        f"{path}: {key!r} is an HDF5 group, not a dataset (an array); the file "
                        f"is not in the expected format. Replace it with the original "
                        f"{path.name}."
                    )
                if isinstance(item, h5py.Dataset) and (item.shape is None or item.size == 0):
                    raise DatasetFormatError(
                        f"{path}: dataset {key!r} is empty (shape {item.shape}); the file holds "
                        f"no data. Replace it with the original {path.name}."
                    )
                if not isinstance(item, h5py.Dataset):
                    raise DatasetFormatError(
                        f"{path}: missing dataset key {key!r} (keys present: {present}). "
                        f"Expected {x_key!r}, {y_key!r} and 'list_classes'; replace the file "
                        f"with the original {path.name}."
                    )
            x = np.asarray(h5[x_key][()])
            y = np.asarray(h5[y_key][()])
            raw_classes = np.asarray(h5["list_classes"][()])
    except OSError as err:
        # h5py raises OSError for anything that is not HDF5: random bytes, a truncated download,
        # a file of another format. Name the file; the original message goes in the chain.
        raise DatasetFormatError(
            f"{path}: not a readable HDF5 file ({err}). It may be corrupt, truncated or of "
            f"another format; copy the original {path.name} again."
        ) from err

    _check_images(path, x_key, x)
    labels = _check_labels(path, y_key, y, n_images=x.shape[0])
    classes = _check_classes(path, raw_classes)
    return x, labels, classes


def _check_images(path: Path, key: str, x: np.ndarray) -> None:
    if x.ndim != 4 or int(np.prod(x.shape[1:])) != N_FEATURES:
        raise DatasetFormatError(
            f"{path}: {key!r} has shape {x.shape}; expected images (m, H, W, C) with "
            f"H*W*C = {N_FEATURES}, e.g. (m, 64, 64, 3)."
        )
    if x.dtype != np.uint8:
        # The [0, 1] scaling divides by 255, which is only right for 8-bit pixels.
        raise DatasetFormatError(
            f"{path}: {key!r} has dtype {x.dtype}; expected uint8 pixels 0..255."
        )


def _check_labels(path: Path, key: str, y: np.ndarray, n_images: int) -> np.ndarray:
    """Check labels are (m,) or (1, m), match the image count and are 0/1; return them (m,)."""
    if not (y.ndim == 1 or (y.ndim == 2 and y.shape[0] == 1)):
        raise DatasetFormatError(
            f"{path}: {key!r} has shape {y.shape}; expected labels of shape (m,) or (1, m)."
        )
    labels = y.reshape(-1)
    if labels.size != n_images:
        raise DatasetFormatError(
            f"{path}: {key!r} holds {labels.size} labels but the images hold {n_images}; "
            f"the counts must match."
        )
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        offending = np.unique(labels[bad])[:5].tolist()
        raise DatasetFormatError(
            f"{path}: {key!r} contains labels other than 0 (non-cat) and 1 (cat): "
            f"{offending} ({int(bad.sum())} labels in all)."
        )
    return labels


def _check_classes(path: Path, raw: np.ndarray) -> tuple[str, ...]:
    names = raw.reshape(-1)
    if names.size != 2:
        raise DatasetFormatError(
            f"{path}: 'list_classes' has {names.size} entries ({names.tolist()}); expected 2, "
            f"e.g. [b'non-cat', b'cat']."
        )
    # h5py returns fixed-length strings as bytes and variable-length ones as str.
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)


def _to_columns(
    images: np.ndarray, labels: np.ndarray, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Turn uint8 images (m, H, W, C) and labels (m,) into x (H*W*C, m) in [0, 1] and y (1, m).

    Each image is flattened in C order (row, then column, then channel) into one column.
    """
    m = images.shape[0]
    # The transpose is a Fortran-ordered view; one C-ordered copy, made directly in the target
    # dtype, gives a plain contiguous array whatever the source, which keeps products fast.
    x = np.ascontiguousarray(images.reshape(m, -1).T, dtype=dtype)
    x /= 255  # in place: no second full-size array
    y = labels.reshape(1, m).astype(dtype)
    return x, y


def load_cat_dataset(
    data_dir: str | os.PathLike[str] | None = None, dtype: DTypeLike = np.float64
) -> CatDataset:
    """Load the real cat / non-cat files as a :class:`CatDataset` (samples as columns).

    Args:
        data_dir: folder holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``. If ``None``
            the search path of the module docstring is used.
        dtype: floating dtype of every returned array (``np.float32`` halves the memory).

    Raises:
        DatasetNotFoundError: no searched folder holds both files (the message lists them).
        DatasetFormatError: a file is unreadable or has the wrong keys, shapes or labels.
        TypeError: ``dtype`` is not a floating dtype.
    """
    float_dtype = _float_dtype(dtype)
    folder = find_data_dir(data_dir)
    if folder is None:
        raise _not_found_error(data_dir)

    train_x, train_y, train_classes = _read_split(folder / TRAIN_FILE, "train")
    test_x, test_y, test_classes = _read_split(folder / TEST_FILE, "test")
    if train_x.shape[1:] != test_x.shape[1:]:
        raise DatasetFormatError(
            f"{folder}: train images have shape {train_x.shape[1:]} but test images "
            f"{test_x.shape[1:]}; both files must hold images of the same size."
        )
    if train_classes != test_classes:
        raise DatasetFormatError(
            f"{folder}: 'list_classes' differs between {TRAIN_FILE} {train_classes} and "
            f"{TEST_FILE} {test_classes}; a label must mean the same class in both."
        )

    x_train, y_train = _to_columns(train_x, train_y, float_dtype)
    x_test, y_test = _to_columns(test_x, test_y, float_dtype)
    return CatDataset(x_train, y_train, x_test, y_test, train_classes)


# --------------------------------------------------------------------------------------------
# The synthetic stand-in
# --------------------------------------------------------------------------------------------

# Knobs of the stand-in, in pixel units of [0, 1]. The cat pattern is weak next to the
# background, so a linear model must pool many pixels to find it, and its per-image strength
# varies, so faint "cats" get confused with non-cats and test accuracy stays below 100 %.
# Measured with these values (seeds 0-9): least squares on the pixels scores 82-94 % on test,
# against 66 % for always answering "cat".
_BACKGROUND_GRID = 5  # coarse grid upsampled to 64x64: low-frequency background
_TEMPLATE_GRID = 8  # the cat pattern is smooth too, but a little finer than the background
_BACKGROUND_AMPLITUDE = 0.12
_PIXEL_NOISE = 0.04
_CAT_AMPLITUDE = 0.20  # peak contrast of the cat pattern in the strongest cat image
_CAT_MIN_STRENGTH = 0.2  # the faintest cat shows the pattern at 20 % of _CAT_AMPLITUDE


def _smooth_noise(rng: np.random.Generator, n: int, grid: int) -> np.ndarray:
    """Return ``n`` smooth random fields (n, 64, 64, 3), float32, roughly unit scale.

    A ``grid`` x ``grid`` field of Gaussian values per channel is upsampled to 64x64 by
    (separable) linear interpolation, so only low spatial frequencies are present.
    """
    height, width, channels = IMAGE_SHAPE
    coarse = rng.standard_normal((n, grid, grid, channels), dtype=np.float32)
    rows, cols = _interpolation_matrix(grid, height), _interpolation_matrix(grid, width)
    # fields[n, i, j, c] = sum over a, b of rows[i, a] * coarse[n, a, b, c] * cols[j, b]
    return np.einsum("ia,nabc,jb->nijc", rows, coarse, cols, optimize=True)


def _interpolation_matrix(grid: int, size: int) -> np.ndarray:
    """Return the (size, grid) float32 matrix that linearly interpolates grid values to size.

    Row i holds the "hat" weights of pixel i on the grid points: at most two non-zero entries,
    summing to 1.
    """
    positions = np.linspace(0.0, grid - 1.0, size)
    weights = np.maximum(0.0, 1.0 - np.abs(positions[:, None] - np.arange(grid)[None, :]))
    return weights.astype(np.float32)


def _synthetic_split(
    rng: np.random.Generator, n_images: int, n_cats: int, template: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return uint8 images (n, 64, 64, 3) and 0/1 labels (n,) with exactly ``n_cats`` cats."""
    labels = np.zeros(n_images, dtype=np.int64)
    labels[rng.choice(n_images, size=n_cats, replace=False)] = 1  # shuffled positions

    brightness = rng.uniform(0.3, 0.7, size=(n_images, 1, 1, 1)).astype(np.float32)
    tint = rng.normal(0.0, 0.05, size=(n_images, 1, 1, 3)).astype(np.float32)
    images = brightness + tint
    images = images + _BACKGROUND_AMPLITUDE * _smooth_noise(rng, n_images, _BACKGROUND_GRID)
    images += _PIXEL_NOISE * rng.standard_normal(images.shape, dtype=np.float32)

    # Cats get the shared template at a random strength, from faint to _CAT_AMPLITUDE. The draw
    # is made for every image (and zeroed for non-cats) to keep the stream layout simple.
    strength = rng.uniform(_CAT_MIN_STRENGTH, 1.0, size=n_images).astype(np.float32)
    amplitude = _CAT_AMPLITUDE * strength
    images += (amplitude * labels)[:, None, None, None] * template

    # Quantise like a real photo: 8-bit values, so pixels become multiples of 1/255.
    pixels = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)
    return pixels, labels


def synthetic_cat_dataset(seed: int = 0, dtype: DTypeLike = np.float64) -> CatDataset:
    """Return a deterministic SYNTHETIC STAND-IN for the cat / non-cat data. NOT cat photos.

    It is used wherever the real files are absent (e.g. a fresh clone without the shared data
    folder) so that code, tests and examples still run. It mirrors the real data's format
    exactly: x ``(12288, 209)`` / ``(12288, 50)``, labels ``(1, m)``, 72 / 209 cats in train
    and 33 / 50 in test at shuffled positions, pixels in [0, 1] on multiples of 1/255, classes
    ``('non-cat', 'cat')``. Results obtained on it say nothing about cat photos.

    What an image is: a smooth random background (per-image brightness and colour tint,
    low-frequency noise, a little per-pixel noise). A "cat" additionally carries one fixed
    smooth random pattern, the same for all cats of a seed, at a random per-image strength
    between zero and weak. So the classes are separable only statistically: a linear model
    trained long enough beats the majority baseline on test clearly but not perfectly, while a
    deep net with small initial weights sees a faint signal and stalls at first, like on the
    real data.

    Args:
        seed: everything is drawn from ``numpy.random.default_rng`` streams derived from it;
            the same seed always gives the same arrays.
        dtype: floating dtype of every returned array.
    """
    float_dtype = _float_dtype(dtype)
    # Independent child streams: the template, train and test draws do not shift each other.
    template_seed, train_seed, test_seed = np.random.SeedSequence(seed).spawn(3)

    template = _smooth_noise(np.random.default_rng(template_seed), 1, _TEMPLATE_GRID)[0]
    template /= np.abs(template).max()  # peak 1, so _CAT_AMPLITUDE is the peak contrast

    train_x, train_y = _synthetic_split(
        np.random.default_rng(train_seed), N_TRAIN, N_TRAIN_CATS, template
    )
    test_x, test_y = _synthetic_split(
        np.random.default_rng(test_seed), N_TEST, N_TEST_CATS, template
    )
    x_train, y_train = _to_columns(train_x, train_y, float_dtype)
    x_test, y_test = _to_columns(test_x, test_y, float_dtype)
    return CatDataset(x_train, y_train, x_test, y_test, CLASSES)


def load_cat_or_synthetic(
    data_dir: str | os.PathLike[str] | None = None,
    dtype: DTypeLike = np.float64,
    seed: int = 0,
) -> tuple[CatDataset, str]:
    """Return the real data if found, else the synthetic stand-in, with a description of which.

    The fallback happens only when ``data_dir`` is ``None``: a folder named explicitly must
    hold the files, otherwise :class:`DatasetNotFoundError` is raised. Corrupt files found on
    the search path raise :class:`DatasetFormatError` rather than being silently replaced.

    Returns:
        ``(dataset, source)`` where ``source`` is e.g. ``"cat/non-cat files in /path"`` or
        ``"SYNTHETIC stand-in (real cat/non-cat files not found in: ...)"``; print it so users
        know which data their numbers come from.
    """
    folder = find_data_dir(data_dir)
    if folder is not None:
        return load_cat_dataset(folder, dtype), f"cat/non-cat files in {folder}"
    if data_dir is not None:
        raise _not_found_error(data_dir)
    searched = ", ".join(str(path) for path in candidate_dirs())
    dataset = synthetic_cat_dataset(seed, dtype)
    return dataset, (
        f"SYNTHETIC stand-in, seed {seed} (real cat/non-cat files not found in: {searched})"
    )
