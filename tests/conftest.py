"""Hypothesis profiles, the real data folder, and a guard against downloads from the internet.

Hypothesis: "ci" is reproducible (derandomized) and a little deeper, "dev" is quick. CI=true
selects "ci"; anything else selects "dev". Override with --hypothesis-profile=NAME.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

# Tests train real networks (tests/test_models.py). On a busy 2-core machine two BLAS threads per
# process fight for the cores and a training step got up to 25x slower than with one; one thread
# keeps the suite's time predictable. It only takes effect if NumPy is not loaded yet.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The real cat / non-cat files: this repository's CI layout keeps them in ../shared/datasets,
# beside the checkout. The package never looks there itself (a user's clone has no such
# folder); the tests are told through the variable every user can set. `.ci/run` sets it too.
_SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
if _SHARED_DATASETS.is_dir():
    os.environ.setdefault("TINYGRAD_EDU_DATA", str(_SHARED_DATASETS))

import pooch  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                          print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


@pytest.fixture(autouse=True)
def no_downloads_from_the_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every download of the package goes through pooch.retrieve; in tests it may only reach a
    server on this machine. A test that would download the real files from a mirror (say, one
    calling load_cat_dataset() with the data absent) fails at once with this message instead.
    Tests that want the real files read them from $TINYGRAD_EDU_DATA, and skip without it."""
    real_retrieve = pooch.retrieve

    def retrieve_from_loopback_only(url: str, *args, **kwargs):
        host = urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise RuntimeError(f"a test tried to download {url}; tests may only download from "
                               f"a server on 127.0.0.1 (set TINYGRAD_EDU_DATA for real data)")
        return real_retrieve(url, *args, **kwargs)

    monkeypatch.setattr(pooch, "retrieve", retrieve_from_loopback_only)


@pytest.fixture(autouse=True)
def empty_download_cache(tmp_path_factory: pytest.TempPathFactory,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read or fill the user's real download cache: $TINYGRAD_EDU_CACHE points at
    an empty folder of each test's own."""
    monkeypatch.setenv("TINYGRAD_EDU_CACHE", str(tmp_path_factory.mktemp("download_cache")))
