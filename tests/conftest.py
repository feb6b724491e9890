"""Hypothesis profiles: "ci" is reproducible (derandomized) and a little deeper, "dev" is quick.

CI=true selects "ci"; anything else selects "dev". Override with --hypothesis-profile=NAME.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                          print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")
