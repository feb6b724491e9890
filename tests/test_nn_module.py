"""Module: parameter and sub-module discovery, names, modes, hooks, state dicts, checkpoints."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import models
from tinygrad_edu import Tensor, nn
from tinygrad_edu.nn.module import CHECKPOINT_FORMAT, CheckpointError


class Block(nn.Module):
    def __init__(self, n_in: int, n_out: int, seed: int) -> None:
        self.linear = nn.Linear(n_in, n_out, rng=seed)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.5, rng=seed)

    def forward(self, x):
        return self.drop(self.act(self.linear(x)))


class Net(nn.Module):
    """Nested modules, a list and a tuple of modules, a loose parameter, a constant tensor."""

    def __init__(self) -> None:
        self.fc1 = nn.Linear(4, 3, rng=0)
        self.blocks = [Block(3, 3, 1), Block(3, 3, 2)]
        self.heads = (nn.Linear(3, 2, rng=3),)
        self.scale = Tensor(np.ones((2, 1)), requires_grad=True)
        self.constant = Tensor(np.ones((2, 1)))  # no gradient: not a parameter
        self.plain_array = np.ones(3)  # not a tensor at all
        self.name = "net"

    def forward(self, x):
        a = self.fc1(x)
        for block in self.blocks:
            a = block(a)
        return (self.heads[0](a) * self.scale + self.constant).sigmoid()


NET_PARAMETER_NAMES = [
    "scale", "fc1.weight", "fc1.bias",
    "blocks.0.linear.weight", "blocks.0.linear.bias",
    "blocks.1.linear.weight", "blocks.1.linear.bias",
    "heads.0.weight", "heads.0.bias",
]


# ==================================================================== discovery
def test_named_parameters_of_a_nested_network() -> None:
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert sorted(names) == sorted(NET_PARAMETER_NAMES)
    assert len(names) == len(set(names))
    params = dict(net.named_parameters())
    assert params["fc1.weight"] is net.fc1.weight
    assert params["blocks.1.linear.bias"] is net.blocks[1].linear.bias
    assert params["heads.0.weight"] is net.heads[0].weight
    assert params["scale"] is net.scale
    assert all(p.requires_grad for p in params.values())
    assert not any(p is net.constant for p in net.parameters())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params.values()]


def test_named_parameters_order_follows_attribute_order() -> None:
    model = models.build("sigmoid4", seed=0, in_features=5)
    assert [name for name, _ in model.named_parameters()] == [
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
        "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"]


def test_sequential_names_and_indexing() -> None:
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Tanh(), nn.Linear(3, 1, rng=1))
    assert [name for name, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert len(model) == 3
    assert isinstance(model[1], nn.Tanh)
    x = np.random.default_rng(0).standard_normal((4, 5))
    expected = model[2](model[1](model[0](Tensor(x)))).data
    np.testing.assert_array_equal(model(Tensor(x)).data, expected)


def test_sequential_rejects_non_modules() -> None:
    with pytest.raises(TypeError, match="item 1 is a function"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)


def test_shared_parameter_is_counted_once() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            self.encoder = nn.Linear(3, 3, rng=0)
            self.decoder = nn.Linear(3, 3, rng=1)
            self.decoder.weight = self.encoder.weight  # weight tying

        def forward(self, x):
            return self.decoder(self.encoder(x))

    model = Tied()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["encoder.weight", "encoder.bias", "decoder.bias"]
    assert len(model.parameters()) == 3
    # The shared weight's gradient sums both uses.
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)))
    model(x).sum().backward()
    w = model.encoder.weight.data
    h = w @ x.data + model.encoder.bias.data
    ones = np.ones((3, 4))
    expected = ones @ h.T + (w.T @ ones) @ x.data.T
    np.testing.assert_allclose(model.encoder.weight.grad.data, expected, rtol=1e-12)


def test_shared_submodule_parameters_are_counted_once() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(2, 2, rng=0)
            self.again = self.layer

        def forward(self, x):
            return self.again(self.layer(x))

    assert len(Twice().parameters()) == 2


def test_modules_lists_every_module_depth_first() -> None:
    net = Net()
    named = list(net.named_modules())
    assert [name for name, _ in named] == [
        "", "fc1", "blocks.0", "blocks.0.linear", "blocks.0.act", "blocks.0.drop",
        "blocks.1", "blocks.1.linear", "blocks.1.act", "blocks.1.drop", "heads.0"]
    assert named[0][1] is net
    assert net.modules() == [module for _, module in named]
    assert [name for name, _ in net.named_children()] == ["fc1", "blocks.0", "blocks.1",
                                                          "heads.0"]


def test_module_without_forward_raises() -> None:
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        Empty()(1)


# ==================================================================== modes and gradients
def test_train_and_eval_propagate_to_every_submodule() -> None:
    net = Net()
    assert all(module.training for module in net.modules())
    assert net.eval() is net
    assert not any(module.training for module in net.modules())
    assert net.train() is net
    assert all(module.training for module in net.modules())
    net.train(False)
    assert not any(module.training for module in net.modules())


def test_eval_turns_dropout_off_inside_the_network() -> None:
    net = Net()
    x = Tensor(np.random.default_rng(0).standard_normal((4, 50)))
    net.eval()
    first, second = net(x).data, net(x).data
    np.testing.assert_array_equal(first, second)
    net.train()
    assert not np.array_equal(net(x).data, net(x).data)  # fresh masks each time


def test_zero_grad_clears_every_parameter() -> None:
    net = Net()
    net(Tensor(np.ones((4, 3)))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_gradients_accumulate_until_zero_grad() -> None:
    layer = nn.Linear(2, 1, rng=0)
    x = Tensor(np.array([[1.0], [2.0]]))
    layer(x).sum().backward()
    first = layer.weight.grad.data.copy()
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, 2 * first)
    layer.zero_grad()
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, first)


# ==================================================================== hooks
def test_forward_hook_receives_module_inputs_and_output_and_can_be_removed() -> None:
    layer = nn.Linear(3, 2, rng=0)
    calls = []
    handle = layer.register_forward_hook(lambda module, inputs, output:
                                         calls.append((module, inputs, output)))
    x = Tensor(np.ones((3, 4)))
    out = layer(x)
    assert len(calls) == 1
    module, inputs, output = calls[0]
    assert module is layer
    assert isinstance(inputs, tuple) and len(inputs) == 1 and inputs[0] is x
    assert output is out
    handle.remove()
    layer(x)
    assert len(calls) == 1
    handle.remove()  # removing twice is harmless


def test_hooks_on_submodules_fire_during_the_parent_forward_in_order() -> None:
    model = models.build("relu4", seed=0, in_features=3)
    seen = []
    handles = [getattr(model, name).register_forward_hook(
        lambda module, inputs, output, name=name: seen.append((name, output.shape)))
        for name in ("fc1", "act1", "fc4")]
    model(Tensor(np.ones((3, 5))))
    assert seen == [("fc1", (30, 5)), ("act1", (30, 5)), ("fc4", (1, 5))]
    for handle in handles:
        handle.remove()
    model(Tensor(np.ones((3, 5))))
    assert len(seen) == 3


def test_two_hooks_removing_one_keeps_the_other() -> None:
    layer = nn.ReLU()
    a, b = [], []
    handle_a = layer.register_forward_hook(lambda *args: a.append(1))
    layer.register_forward_hook(lambda *args: b.append(1))
    layer(Tensor(np.ones(2)))
    handle_a.remove()
    layer(Tensor(np.ones(2)))
    assert a == [1] and b == [1, 1]


def test_hook_is_per_instance() -> None:
    first, second = nn.ReLU(), nn.ReLU()
    calls = []
    first.register_forward_hook(lambda *args: calls.append(1))
    second(Tensor(np.ones(2)))
    assert calls == []


# ==================================================================== state dicts
def test_state_dict_is_a_copy() -> None:
    net = Net()
    state = net.state_dict()
    assert list(state) == [name for name, _ in net.named_parameters()]
    for name, tensor in net.named_parameters():
        np.testing.assert_array_equal(state[name], tensor.data)
        assert not np.shares_memory(state[name], tensor.data), name
    state["fc1.weight"][...] = 123.0
    assert not np.any(net.fc1.weight.data == 123.0)
    net.fc1.bias.data[...] = 7.0
    assert not np.any(state["fc1.bias"] == 7.0)


def test_load_state_dict_copies_values_in_place() -> None:
    source, target = Net(), Net()
    for tensor in source.parameters():
        tensor.data[...] = np.random.default_rng(id(tensor) % 1000).standard_normal(tensor.shape)
    weight_before = target.fc1.weight
    array_before = target.fc1.weight.data
    state = source.state_dict()
    target.load_state_dict(state)
    for name, tensor in target.named_parameters():
        np.testing.assert_array_equal(tensor.data, state[name])
    assert target.fc1.weight is weight_before and target.fc1.weight.data is array_before
    state["fc1.weight"][...] = 0.0  # the model does not alias the dict's arrays
    assert not np.all(target.fc1.weight.data == 0.0)


def _assert_unchanged(model: nn.Module, before: dict[str, np.ndarray]) -> None:
    after = model.state_dict()
    assert list(after) == list(before)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_load_state_dict_refuses_missing_entries_and_changes_nothing() -> None:
    model = models.build("relu4", seed=0, in_features=3)
    before = model.state_dict()
    state = {name: value + 1.0 for name, value in before.items()}
    del state["fc2.bias"], state["fc3.weight"]
    with pytest.raises(CheckpointError) as error:
        model.load_state_dict(state)
    assert "missing" in str(error.value)
    assert "fc2.bias" in str(error.value) and "fc3.weight" in str(error.value)
    _assert_unchanged(model, before)


def test_load_state_dict_refuses_extra_entries_and_changes_nothing() -> None:
    model = models.build("relu4", seed=0, in_features=3)
    before = model.state_dict()
    state = {name: value + 1.0 for name, value in before.items()}
    state["fc9.weight"] = np.zeros((2, 2))
    with pytest.raises(CheckpointError) as error:
        model.load_state_dict(state)
    assert "unexpected" in str(error.value) and "fc9.weight" in str(error.value)
    _assert_unchanged(model, before)


def test_load_state_dict_refuses_wrong_shapes_naming_both_and_changes_nothing() -> None:
    model = models.build("relu4", seed=0, in_features=3)
    before = model.state_dict()
    state = {name: value + 1.0 for name, value in before.items()}
    state["fc2.weight"] = np.zeros((30, 31))
    state["fc4.bias"] = np.zeros(1)
    with pytest.raises(CheckpointError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "fc2.weight" in message and "(30, 31)" in message and "(30, 30)" in message
    assert "fc4.bias" in message and "(1,)" in message and "(1, 1)" in message
    _assert_unchanged(model, before)


def test_checkpoint_error_is_a_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)


# ==================================================================== save and load
def test_save_load_round_trip(tmp_path) -> None:
    source = models.build("relu5_he", seed=0, in_features=7)
    target = models.build("relu5_he", seed=1, in_features=7)
    path = tmp_path / "model.h5"
    source.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]  # no temporary left
    with h5py.File(path, "r") as file:
        assert file.attrs["format"] == CHECKPOINT_FORMAT
    target.load(str(path))
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters(),
                                    strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
        assert a.data.dtype == b.data.dtype


def test_save_load_round_trip_sequential_and_float32(tmp_path) -> None:
    def make(seed):
        return nn.Sequential(nn.Linear(3, 4, rng=seed, dtype=np.float32), nn.ReLU(),
                             nn.Linear(4, 1, rng=seed + 1, dtype=np.float32))

    source, target = make(0), make(10)
    source.save(tmp_path / "seq.h5")
    target.load(tmp_path / "seq.h5")
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value, err_msg=name)
    assert all(p.dtype == np.float32 for p in target.parameters())


def test_save_overwrites_an_existing_checkpoint(tmp_path) -> None:
    path = tmp_path / "model.h5"
    models.build("relu4", seed=0, in_features=3).save(path)
    newer = models.build("relu4", seed=5, in_features=3)
    newer.save(path)
    check = models.build("relu4", seed=9, in_features=3)
    check.load(path)
    _assert_unchanged(check, newer.state_dict())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_load_into_a_different_architecture_is_refused(tmp_path) -> None:
    path = tmp_path / "model.h5"
    models.build("relu4", seed=0, in_features=3).save(path)
    other = models.build("relu5", seed=0, in_features=3)
    before = other.state_dict()
    with pytest.raises(CheckpointError, match="fc5"):
        other.load(path)
    _assert_unchanged(other, before)


def test_load_of_a_corrupt_file_raises_checkpoint_error(tmp_path) -> None:
    path = tmp_path / "garbage.h5"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    model = models.build("relu4", seed=0, in_features=3)
    before = model.state_dict()
    with pytest.raises(CheckpointError, match="garbage.h5"):
        model.load(path)
    _assert_unchanged(model, before)


def test_load_of_a_truncated_checkpoint_raises_checkpoint_error(tmp_path) -> None:
    path = tmp_path / "model.h5"
    models.build("relu4", seed=0, in_features=3).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        models.build("relu4", seed=0, in_features=3).load(path)


def test_load_of_an_hdf5_file_that_is_not_a_checkpoint(tmp_path) -> None:
    path = tmp_path / "other.h5"
    model = models.build("relu4", seed=0, in_features=3)
    with h5py.File(path, "w") as file:  # the right names and shapes, but no format attribute
        for name, value in model.state_dict().items():
            file.create_dataset(name.replace(".", "/"), data=value + 1)
    before = model.state_dict()
    with pytest.raises(CheckpointError, match="not a tinygrad_edu checkpoint"):
        model.load(path)
    _assert_unchanged(model, before)


def test_load_of_a_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        nn.Linear(2, 2).load(tmp_path / "nothing.h5")


def test_failed_save_keeps_the_existing_checkpoint_and_leaves_no_temporary(
        tmp_path, monkeypatch) -> None:
    path = tmp_path / "model.h5"
    good = models.build("relu4", seed=0, in_features=3)
    good.save(path)
    good_bytes = path.read_bytes()

    calls = []

    def failing_create_dataset(self, name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 3:  # fail in the middle of writing
            raise OSError("disk full (simulated)")
        return original(self, name, *args, **kwargs)

    original = h5py.Group.create_dataset
    monkeypatch.setattr(h5py.Group, "create_dataset", failing_create_dataset)
    with pytest.raises(OSError, match="disk full"):
        models.build("relu4", seed=1, in_features=3).save(path)
    monkeypatch.undo()

    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]
    assert path.read_bytes() == good_bytes
    check = models.build("relu4", seed=2, in_features=3)
    check.load(path)
    _assert_unchanged(check, good.state_dict())


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_saved_checkpoint_has_the_usual_file_permissions(tmp_path) -> None:
    """A checkpoint is an ordinary file: its mode follows the umask (0644 under umask 022), not
    the owner-only 0600 of the temporary file it was written under."""
    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / "model.h5"
    nn.Linear(2, 2).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch) -> None:
    def failing_create_dataset(self, name, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(h5py.Group, "create_dataset", failing_create_dataset)
    with pytest.raises(RuntimeError, match="boom"):
        nn.Linear(2, 2).save(tmp_path / "model.h5")
    assert list(tmp_path.iterdir()) == []


# ==================================================================== repr
def test_repr_shows_the_structure() -> None:
    text = repr(models.build("relu4", seed=0, in_features=3))
    assert "(fc1): Linear(in_features=3, out_features=30, bias=True, init=small)" in text
    assert "(act1): ReLU()" in text
    text = repr(nn.Sequential(nn.Sigmoid(centered=True), nn.Dropout(0.5)))
    assert "(layers.0): Sigmoid(centered=True)" in text
    assert "(layers.1): Dropout(keep_prob=0.5)" in text


# ==================================================================== what a parameter is
class Caching(nn.Module):
    """Keeps its last pre-activation, a tensor that requires a gradient but is no parameter."""

    def __init__(self) -> None:
        self.fc = nn.Linear(3, 2, rng=0)
        self.last_z = None
        self.history = []

    def forward(self, x):
        self.last_z = self.fc(x)
        self.history = [self.last_z]
        return self.last_z.relu()


def test_a_cached_activation_is_not_a_parameter_nor_in_the_state_dict(tmp_path) -> None:
    model = Caching()
    model(Tensor(np.ones((3, 4))))
    assert model.last_z.requires_grad and not model.last_z.is_leaf
    assert [name for name, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]
    model.save(tmp_path / "caching.h5")
    fresh = Caching()
    fresh.load(tmp_path / "caching.h5")  # no "unexpected last_z"
    np.testing.assert_array_equal(fresh.fc.weight.data, model.fc.weight.data)


# ==================================================================== load_state_dict: dtypes
@pytest.mark.parametrize("bad, says", [
    (np.full((1, 1), 1 + 2j), "complex128 is not a real floating or integer dtype"),
    (np.full((1, 1), b"ab"), "|S2 is not a real"),
    (np.full((1, 1), "ab"), "<U2 is not a real"),
    (np.full((1, 1), True), "bool is not a real"),
    (np.full((1, 1), None), "object is not a real"),
], ids=["complex", "bytes", "str", "bool", "object"])
def test_load_state_dict_refuses_a_wrong_dtype_before_writing_anything(bad, says) -> None:
    """The issue's case: the earlier layers were overwritten before the bad value was met."""
    model = models.build("relu4", seed=0, in_features=3)
    before = model.state_dict()
    versions = [p._version for p in model.parameters()]
    state = {name: value + 1.0 for name, value in before.items()}
    state["fc4.bias"] = bad  # the last entry: every other one would be written first
    with pytest.raises(CheckpointError, match=rf"wrong dtype fc4\.bias: {re.escape(says)}"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)
    assert [p._version for p in model.parameters()] == versions


def test_load_state_dict_takes_integers_that_convert_exactly_and_bumps_versions() -> None:
    layer = nn.Linear(2, 1, rng=0, dtype=np.float32)
    assert layer.weight._version == 0
    layer.load_state_dict({"weight": np.array([[3, -4]]), "bias": np.array([[2 ** 24]])})
    np.testing.assert_array_equal(layer.weight.data, [[3.0, -4.0]])
    assert layer.weight.dtype == np.float32 and layer.weight._version > 0
    with pytest.raises(CheckpointError, match="int64 values do not convert exactly"):
        layer.load_state_dict({"weight": np.array([[2 ** 24 + 1, 0]]), "bias": np.zeros((1, 1))})
    with pytest.raises(CheckpointError, match="float64 values overflow the parameter's float32"):
        layer.load_state_dict({"weight": np.array([[1e300, 0.0]]), "bias": np.zeros((1, 1))})
    assert layer.bias.data[0, 0] == 2 ** 24  # both refusals changed nothing


# ==================================================================== checkpoints: paths
def test_save_to_an_empty_path_or_a_folder_is_a_clear_error(tmp_path) -> None:
    layer = nn.Linear(2, 1, rng=0)
    with pytest.raises(ValueError, match="the checkpoint path is empty"):
        layer.save("")
    with pytest.raises(IsADirectoryError, match=rf"{re.escape(str(tmp_path))} is a folder"):
        layer.save(tmp_path)
    with pytest.raises(IsADirectoryError, match="is a folder; give the checkpoint file"):
        layer.load(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_folder_names_the_target_not_a_temporary(tmp_path) -> None:
    target = tmp_path / "nowhere" / "model.h5"
    with pytest.raises(FileNotFoundError) as error:
        nn.Linear(2, 1, rng=0).save(target)
    assert str(target) in str(error.value) and ".tmp" not in str(error.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="POSIX modes; root writes into read-only folders anyway")
def test_save_into_a_read_only_folder_names_the_target(tmp_path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as error:
            nn.Linear(2, 1, rng=0).save(folder / "model.h5")
    finally:
        folder.chmod(0o755)
    assert "model.h5" in str(error.value) and ".tmp" not in str(error.value)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_saving_over_a_read_only_checkpoint_is_refused(tmp_path) -> None:
    path = tmp_path / "model.h5"
    nn.Linear(2, 1, rng=0).save(path)
    kept = path.read_bytes()
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=rf"{re.escape(str(path))} is read-only"):
        nn.Linear(2, 1, rng=1).save(path)
    assert path.read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


KILLED_SAVE = """
import sys, time
import h5py
from tinygrad_edu import nn
def hang(*args, **kwargs):
    print("writing", flush=True)
    time.sleep(60)
h5py.Group.create_dataset = hang
nn.Linear(2, 1, rng=0).save(sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and POSIX process ids")
def test_a_save_killed_midway_leaves_a_temporary_the_next_save_removes(tmp_path) -> None:
    path = tmp_path / "model.h5"
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    try:
        assert child.stdout.readline().strip() == "writing"  # inside save(), temp file open
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    stale = [p.name for p in tmp_path.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(f".model.h5.{child.pid}.")
    mine = tmp_path / f".model.h5.{os.getpid()}.inprogress.tmp"  # a live process's: kept
    mine.write_bytes(b"")
    nn.Linear(2, 1, rng=0).save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name, "model.h5"]


# ==================================================================== checkpoints: checksums
def test_a_flipped_byte_in_a_weight_is_refused_naming_the_array(tmp_path) -> None:
    path = tmp_path / "model.h5"
    model = models.build("relu4", seed=0, in_features=3)
    model.save(path)
    raw = bytearray(path.read_bytes())
    weights = model.fc2.weight.data.tobytes()
    start = raw.find(weights)
    assert start >= 0 and raw.find(weights, start + 1) < 0  # stored once, contiguously
    raw[start + len(weights) // 2] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(raw))
    target = models.build("relu4", seed=1, in_features=3)
    before = target.state_dict()
    with pytest.raises(CheckpointError, match=r"corrupt: the bytes of \['fc2\.weight'\]"):
        target.load(path)
    _assert_unchanged(target, before)


def test_every_saved_array_carries_its_digest(tmp_path) -> None:
    path = tmp_path / "model.h5"
    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.Linear(2, 1, rng=1))
    model.save(path)
    with h5py.File(path, "r") as file:
        for name, value in model.state_dict().items():
            digest = file[name.replace(".", "/")].attrs["sha256"]
            assert digest == hashlib.sha256(value.tobytes()).hexdigest(), name
