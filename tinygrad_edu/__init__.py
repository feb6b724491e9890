"""tinygrad_edu: a small reverse-mode autodiff framework on NumPy, written to be read.

Samples are columns, as in the course: x is (features, m) and Linear computes W @ x + b.
"""

from tinygrad_edu.gradcheck import GradcheckError, gradcheck
from tinygrad_edu.tensor import Function, Tensor, is_grad_enabled, no_grad

__all__ = ["Function", "GradcheckError", "Tensor", "gradcheck", "is_grad_enabled", "no_grad"]
__version__ = "0.1.0"
