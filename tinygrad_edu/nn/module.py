"""`Module`: the base of layers and networks, and `Sequential`.

A Module finds its parameters and sub-modules by looking at its own attributes, as PyTorch does:
a LEAF Tensor attribute with `requires_grad=True` is a parameter, a Module attribute is a
sub-module, and lists or tuples of either count too. A tensor an op produced (a non-leaf, such as
an activation cached with `self.last_z = self.fc(x)`) is never a parameter and never in the state
dict, although it requires a gradient: a module owns only the tensors it created. (PyTorch marks
them with a `Parameter` type; here being a leaf is the mark.) Arrays registered with
`register_buffer` (BatchNorm's running statistics) are saved and loaded with the parameters but
never trained. So a network is written as plain Python:

    class Net(Module):
        def __init__(self):
            self.fc1 = Linear(12288, 30)
            self.act1 = ReLU()
            self.fc2 = Linear(30, 1)
        def forward(self, x):
            return self.fc2(self.act1(self.fc1(x))).sigmoid()

and `Net().named_parameters()` yields ("fc1.weight", ...), ("fc1.bias", ...), ...
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor, bump_version

ForwardHook = Callable[["Module", tuple[Any, ...], Any], None]

CHECKPOINT_FORMAT = "tinygrad_edu.state_dict/1"


class CheckpointError(ValueError):
    """A state dict or checkpoint does not fit the model (names or shapes), or is unreadable."""


class HookHandle:
    """Returned by `register_forward_hook`; `remove()` unregisters the hook."""

    def __init__(self, hooks: list[ForwardHook], hook: ForwardHook) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Module:
    """Base class of layers and networks. Subclasses define `forward`; calling the module calls it.

    `training` is True until `eval()`; layers such as Dropout behave differently in each mode.
    """

    training: bool = True  # a class default, so subclasses need not call super().__init__()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        for hook in self.__dict__.get("_forward_hooks", ()):
            hook(self, args, out)
        return out

    def register_forward_hook(self, hook: ForwardHook) -> HookHandle:
        """Call `hook(module, inputs, output)` after each forward (the gradient monitor uses it)."""
        hooks = self.__dict__.setdefault("_forward_hooks", [])
        hooks.append(hook)
        return HookHandle(hooks, hook)

    # ---------------------------------------------------------------- discovery
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules, by attribute name (`fc1`, or `layers.0` inside a list)."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{index}", item

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`) and every sub-module below it, depth first."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> list[Module]:
        return [module for _, module in self.named_modules()]

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """Every parameter once, named by its path: ("fc1.weight", W1), ("fc1.bias", b1), ..."""
        seen: set[int] = set()  # a tensor shared by two layers is one parameter
        for module_name, module in self.named_modules():
            for name, value in vars(module).items():
                for local_name, tensor in _tensors_in(name, value):
                    if tensor.requires_grad and tensor.is_leaf and id(tensor) not in seen:
                        seen.add(id(tensor))
                        yield (f"{module_name}.{local_name}" if module_name else local_name), tensor

    def parameters(self) -> list[Tensor]:
        return [tensor for _, tensor in self.named_parameters()]

    def register_buffer(self, name: str, values: Any) -> None:
        """Keep `values` as the array attribute `name`, saved with the model but never trained.

        A buffer is state that is not a parameter: no gradient, no optimizer step, but it is
        part of what a trained model is (BatchNorm's running mean and variance). It goes into
        `state_dict`, `load_state_dict` and checkpoints beside the parameters. Assigning a new
        array to the attribute later keeps it a buffer: buffers are found by name.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"register_buffer: name must be an identifier, got {name!r}")
        setattr(self, name, np.array(values))  # a copy the module owns
        names = self.__dict__.setdefault("_buffer_names", [])
        if name not in names:
            names.append(name)

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """Every buffer, named by its path: ("bn1.running_mean", array), ..."""
        for module_name, module in self.named_modules():
            for name in module.__dict__.get("_buffer_names", ()):
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    # ---------------------------------------------------------------- modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Put this module and all its sub-modules in training mode (or evaluation mode)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget accumulated gradients (set every parameter's .grad to None)."""
        for tensor in self.parameters():
            tensor.grad = None

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values and every buffer, by name."""
        state = {name: tensor.data.copy() for name, tensor in self.named_parameters()}
        state.update((name, np.array(values)) for name, values in self.named_buffers())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy values into the parameters and buffers. Every entry is checked first, and on any
        problem nothing changes: a missing or unexpected name, a wrong shape, or a value that is
        not real numbers the target's dtype holds without loss (floats, or integers that convert
        exactly; complex, bool, bytes, strings and objects are refused). The error names every
        such entry."""
        parameters = dict(self.named_parameters())
        own = {name: tensor.data for name, tensor in parameters.items()}  # name -> target array
        own.update(self.named_buffers())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        values: dict[str, np.ndarray] = {}
        mis_shaped, mis_typed = [], []
        for name, target in own.items():
            if name not in state:
                continue
            try:
                value = np.asarray(state[name])
            except (TypeError, ValueError) as error:
                mis_typed.append(f"{name}: not an array ({error})")
                continue
            if value.shape != target.shape:
                mis_shaped.append(f"{name}: checkpoint {value.shape}, model {target.shape}")
            elif (problem := _conversion_problem(value, target.dtype)) is not None:
                mis_typed.append(f"{name}: {problem}")
            else:
                values[name] = value
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if unexpected:
            problems.append(f"unexpected {unexpected}")
        if mis_shaped:
            problems.append("wrong shape " + "; ".join(mis_shaped))
        if mis_typed:
            problems.append("wrong dtype " + "; ".join(mis_typed))
        if problems:
            raise CheckpointError(f"state dict does not fit {type(self).__name__}: "
                                  + ", ".join(problems))
        for name, target in own.items():  # every entry checked: now write them all
            np.copyto(target, values[name], casting="unsafe")
            if name in parameters:  # an in-place update: graphs recorded before are stale
                bump_version(parameters[name])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state dict to an HDF5 file (one dataset per parameter with the SHA-256 of
        its bytes beside it; no pickle).

        The file is written under a temporary name in the same folder and then renamed, so a
        crash never leaves a half-written checkpoint where a good one was; temporaries left by
        a save that was killed are removed by the next save to the same file. A read-only file
        is not replaced (PermissionError).
        """
        import h5py

        path = _checkpoint_target(path)
        _remove_stale_temporaries(path)
        try:
            handle, temporary = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        except OSError as error:  # name the checkpoint, not the temporary file
            raise type(error)(error.errno, f"cannot write checkpoint {path} in the folder "
                                           f"{path.parent}: {error.strerror}") from None
        os.close(handle)
        try:
            with h5py.File(temporary, "w") as file:
                file.attrs["format"] = CHECKPOINT_FORMAT
                file.attrs["model"] = type(self).__name__
                for name, values in self.state_dict().items():
                    dataset = file.create_dataset(name.replace(".", "/"), data=values)
                    dataset.attrs["sha256"] = _digest(values)
            umask = os.umask(0)  # mkstemp makes the file private (0600); give it the usual mode
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(self, path: str | os.PathLike[str]) -> None:
        """Load parameters saved by `save` (names, shapes and dtypes must fit this model; each
        array's SHA-256 must match the one saved beside it, else CheckpointError naming it)."""
        import h5py

        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(f"checkpoint {path} is a folder; give the checkpoint file "
                                    f"inside it, e.g. {path / 'model.h5'}")
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        state: dict[str, np.ndarray] = {}
        corrupt: list[str] = []

        def read(name: str, item: Any) -> None:
            if isinstance(item, h5py.Dataset):
                value = item[()]
                saved = item.attrs.get("sha256")  # absent in checkpoints of older versions
                if saved is not None and saved != _digest(np.asarray(value)):
                    corrupt.append(name.replace("/", "."))
                state[name.replace("/", ".")] = value

        try:
            with h5py.File(path, "r") as file:
                if file.attrs.get("format") != CHECKPOINT_FORMAT:
                    raise CheckpointError(f"{path} is not a tinygrad_edu checkpoint (no format "
                                          f"attribute {CHECKPOINT_FORMAT!r})")
                file.visititems(read)
        except OSError as error:
            raise CheckpointError(f"cannot read checkpoint {path} as HDF5: {error}") from None
        if corrupt:
            raise CheckpointError(f"checkpoint {path} is corrupt: the bytes of {corrupt} do not "
                                  f"match their saved SHA-256; nothing was loaded. Use another "
                                  f"copy of the checkpoint.")
        self.load_state_dict(state)

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""


def _conversion_problem(value: np.ndarray, dtype: np.dtype) -> str | None:
    """Why `value` cannot go into a parameter of `dtype` without loss, or None if it can."""
    if value.dtype.kind == "f":
        with np.errstate(over="ignore"):
            converted = value.astype(dtype)
        if np.any(np.isfinite(value) & ~np.isfinite(converted)):
            return f"{value.dtype} values overflow the parameter's {dtype}"
        return None
    if value.dtype.kind in "iu":
        if not np.array_equal(value.astype(dtype).astype(value.dtype), value):
            return f"{value.dtype} values do not convert exactly to the parameter's {dtype}"
        return None
    return f"{value.dtype} is not a real floating or integer dtype (the parameter is {dtype})"


def _digest(values: np.ndarray) -> str:
    """SHA-256 of an array's bytes in C order: a flipped byte in the file changes it."""
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()


def _checkpoint_target(path: str | os.PathLike[str]) -> Path:
    """The checkpoint's path, after the checks that give clear errors instead of the OS's."""
    if not str(path).strip():
        raise ValueError("save: the checkpoint path is empty; give a file name, e.g. 'model.h5'")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"save: {path} is a folder; give a file name inside it, e.g. "
                                f"{path / 'model.h5'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: cannot write checkpoint {path}: the folder "
                                f"{path.parent} does not exist (create it first)")
    if path.exists() and (not stat.S_IMODE(path.stat().st_mode) & 0o222
                          or not os.access(path, os.W_OK)):
        raise PermissionError(f"save: checkpoint {path} is read-only; it is not replaced. Make "
                              f"it writable (chmod u+w) or save under another name.")
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporaries of `path` (.NAME.PID.XXXX.tmp) whose process no longer runs: what a
    save killed before its rename leaves behind. A live process's temporary is left alone."""
    if os.name != "posix":  # the liveness test below is POSIX's
        return
    for temporary in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = temporary.name[len(path.name) + 2:].split(".")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            temporary.unlink(missing_ok=True)
        except PermissionError:  # it exists, under another user
            pass


def _tensors_in(name: str, value: Any) -> list[tuple[str, Tensor]]:
    """The tensors an attribute holds: itself, or the items of a list or tuple (`name.i`)."""
    if isinstance(value, Tensor):
        return [(name, value)]
    if isinstance(value, (list, tuple)):
        return [(f"{name}.{i}", item) for i, item in enumerate(value) if isinstance(item, Tensor)]
    return []


class Sequential(Module):
    """Modules applied one after the other: Sequential(Linear(4, 3), ReLU(), Linear(3, 1))."""

    def __init__(self, *layers: Module) -> None:
        for position, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {position} is a {type(layer).__name__}, "
                                f"not a Module")
        self.layers = list(layers)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]
