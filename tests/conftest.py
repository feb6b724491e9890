"""Hypothesis profiles: "ci" is reproducible (derandomized) and a little deeper, "dev" is quick.

CI=true selects "ci"; anything else selects "dev". Override with --hypothesis-profile=NAME.
"""

import os

# Tests train real networks (tests/test_models.py). On a busy 2-core machine two BLAS threads per
# process fight for the cores and a training step got up to 25x slower than with one; one thread
# keeps the suite's time predictable. It only takes effect if NumPy is not loaded yet.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                          print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
