"""The graph drawn: the DOT text (boxes, arrows, labels, gradient colours, depth, node limit), the
gradient walk that colours it, and a render through the real Graphviz `dot` program."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import models
from tinygrad_edu import Tensor, nn
from tinygrad_edu.testing import arrays, leaf, shapes
from tinygrad_edu.viz import (
    GraphDrawing,
    draw_graph,
    gradient_colour,
    gradient_flow,
    luminance,
    to_dot,
)

IN_CI = os.environ.get("CI") == "true"
NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)")
FILL = re.compile(r'fillcolor="(#[0-9a-f]{6})"')


def parse(dot: str) -> tuple[dict[str, list[str]], dict[str, str], list[tuple[str, str]]]:
    """The boxes (id -> label lines), their fill colours and the arrows of DOT text from to_dot."""
    labels, fills, edges = {}, {}, []
    for line in dot.splitlines():
        if match := NODE.match(line):
            labels[match[1]] = match[2].replace('\\"', '"').split("\\n")
            if fill := FILL.search(match[3]):
                fills[match[1]] = fill[1]
        elif match := EDGE.match(line):
            edges.append((match[1], match[2]))
    return labels, fills, edges


def box(labels: dict[str, list[str]], first_line: str) -> str:
    """The id of the one box whose label starts with `first_line`."""
    found = [key for key, lines in labels.items() if lines[0] == first_line]
    assert len(found) == 1, f"{len(found)} boxes labelled {first_line!r}: {labels}"
    return found[0]


def grad_norm_in(lines: list[str]) -> float:
    """The number after ||grad|| in a label."""
    [line] = [line for line in lines if line.startswith("\u2016grad\u2016")]
    return float(line.split()[-1])


def sigmoid5_after_backward(m: int = 8):
    model = models.build("sigmoid5", seed=0)
    rng = np.random.default_rng(1)
    x = Tensor(rng.random((models.IMAGE_FEATURES, m)))
    y = Tensor((rng.random((1, m)) < 0.5).astype(np.float64))
    loss = nn.binary_cross_entropy(model(x), y)
    loss.backward(retain_graph=True)
    return model, x, y, loss


# ==================================================================== boxes, arrows, labels
def test_a_scalar_expression_shows_its_ops_values_and_gradients() -> None:
    a, b = leaf(2.0), leaf(-3.0)
    c = a * b + a          # c = ab + a = -4;  dc/da = b + 1 = -2,  dc/db = a = 2
    c.backward(retain_graph=True)
    labels, _, edges = parse(to_dot(c, names={"a": a, "b": b}))
    ids = {name: box(labels, name) for name in ("a", "b", "Mul", "Add")}
    assert len(labels) == 4
    assert sorted(edges) == sorted([(ids["a"], ids["Mul"]), (ids["b"], ids["Mul"]),
                                    (ids["Mul"], ids["Add"]), (ids["a"], ids["Add"])])
    assert labels[ids["a"]] == ["a", "scalar", "data 2", "grad -2"]
    assert labels[ids["b"]] == ["b", "scalar", "data -3", "grad 2"]
    assert labels[ids["Mul"]] == ["Mul", "scalar", "data -6", "grad 1"]
    assert labels[ids["Add"]] == ["Add", "scalar", "data -4", "grad 1"]


def test_a_reused_node_has_an_arrow_per_use() -> None:
    x = leaf([1.0, 2.0])
    labels, _, edges = parse(to_dot((x * x).sum(), names={"x": x}, gradients=True))
    assert edges.count((box(labels, "x"), box(labels, "Mul"))) == 2
    # d(sum x^2)/dx = 2x: both uses are summed before the leaf gets it
    assert labels[box(labels, "x")][-1] == "grad [2, 4]"


def test_leaves_are_named_by_the_model_and_ops_show_shape_and_non_default_dtype() -> None:
    model, x, y, loss = sigmoid5_after_backward()
    labels, _, _ = parse(to_dot(loss, model=model, names={"x": x}, group_linear=False))
    firsts = [lines[0] for lines in labels.values()]
    for layer in range(1, 6):
        assert f"fc{layer}.weight" in firsts and f"fc{layer}.bias" in firsts
    assert labels[box(labels, "fc1.weight")][1] == "(30, 12288)"
    assert labels[box(labels, "x")][1] == "(12288, 8)"
    assert firsts.count("MatMul") == 5 and firsts.count("Sigmoid") == 5

    w = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    labels32, _, _ = parse(to_dot((w * 2.0).sum(), names={"w": w}))
    assert labels32[box(labels32, "w")][1] == "(2, 3) float32"
    assert labels32[box(labels32, "Mul")][1] == "(2, 3) float32"
    assert labels[box(labels, "fc1.weight")][1].endswith(")")  # float64 says nothing


def test_one_box_per_linear_layer_or_one_per_op() -> None:
    model, x, y, loss = sigmoid5_after_backward()
    grouped, _, grouped_edges = parse(to_dot(loss, model=model, names={"x": x}))
    every_op, _, _ = parse(to_dot(loss, model=model, names={"x": x}, group_linear=False))
    assert len(every_op) - len(grouped) == 5  # each layer's MatMul went into its Add's box
    firsts = [lines[0] for lines in grouped.values()]
    assert "MatMul" not in firsts
    fc1 = box(grouped, "fc1: Linear")
    assert grouped[fc1][1:3] == ["W @ x + b", "(30, 8)"]
    inputs = sorted(grouped[source][0] for source, target in grouped_edges if target == fc1)
    assert inputs == ["fc1.bias", "fc1.weight", "x"]
    # the box carries dz^[1], what reached the layer's output: the same as the Add's
    add_norms = sorted(grad_norm_in(lines) for lines in every_op.values() if lines[0] == "Add"
                       and lines[1] == "(30, 8)")
    assert any(math.isclose(grad_norm_in(grouped[fc1]), norm, rel_tol=1e-2)
               for norm in add_norms)


# ==================================================================== gradients and colours
def test_gradient_flow_matches_backward_at_the_leaves_and_writes_nothing() -> None:
    model = models.build("sigmoid5", seed=0)
    rng = np.random.default_rng(2)
    x = Tensor(rng.random((models.IMAGE_FEATURES, 6)))
    loss = nn.binary_cross_entropy(model(x), (rng.random((1, 6)) < 0.5).astype(np.float64))
    flow = gradient_flow(loss)
    assert all(p.grad is None for p in model.parameters())  # nothing written
    loss.backward()  # the graph was not released by the walk either
    for name, parameter in model.named_parameters():
        assert math.isclose(flow.norm(parameter), np.linalg.norm(parameter.grad.data),
                            rel_tol=1e-12), name
    assert flow.norm(x) is None  # the data needs no gradient and gets none


def test_an_op_node_gets_the_gradient_that_reached_it() -> None:
    w, x = leaf(np.ones((2, 3))), Tensor(np.arange(12.0).reshape(3, 4))
    z = w @ x
    loss = (z * z).sum()  # dloss/dz = 2 z
    flow = gradient_flow(loss)
    assert math.isclose(flow.norm(z), np.linalg.norm(2 * z.data), rel_tol=1e-12)
    labels, _, _ = parse(to_dot(loss, gradients=flow))
    assert math.isclose(grad_norm_in(labels[box(labels, "MatMul")]),
                        np.linalg.norm(2 * z.data), rel_tol=1e-2)


@given(arrays(shapes(min_dims=1, max_dims=2, max_side=4)),
       st.lists(st.sampled_from(["sigmoid", "tanh", "square", "times_leaf"]), min_size=1,
                max_size=6))
def test_gradient_flow_equals_backward_on_drawn_chains(values, steps) -> None:
    x, scale = leaf(values), leaf(0.5)
    out = x
    for step in steps:
        out = {"sigmoid": lambda t: t.sigmoid(), "tanh": lambda t: t.tanh(),
               "square": lambda t: t * t, "times_leaf": lambda t: t * scale + x}[step](out)
    loss = out.sum()
    flow = gradient_flow(loss)
    loss.backward()
    for tensor in (x, scale):
        expected = np.linalg.norm(tensor.grad.data) if tensor.grad is not None else None
        actual = flow.norm(tensor)
        if expected is None:
            assert actual is None
        else:
            assert math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-300)


def test_colours_follow_the_gradient_norms_and_sigmoid5s_first_layer_is_pale() -> None:
    model, x, y, loss = sigmoid5_after_backward()
    for norm in ("node", "element"):
        labels, fills, _ = parse(to_dot(loss, model=model, names={"x": x}, norm=norm))
        flow = gradient_flow(loss)
        by_box = {}
        for key, lines in labels.items():
            tensor = {name: p for name, p in model.named_parameters()}.get(lines[0])
            if tensor is not None:
                size = flow.norm(tensor)
                by_box[key] = size / math.sqrt(tensor.size) if norm == "element" else size
        ordered = sorted(by_box, key=by_box.get)  # smallest gradient first
        brightness = [luminance(fills[key]) for key in ordered]
        assert all(a >= b for a, b in zip(brightness, brightness[1:], strict=False)), norm
        fc1, fc5 = box(labels, "fc1.weight"), box(labels, "fc5.weight")
        assert by_box[fc1] < by_box[fc5]
        assert luminance(fills[fc1]) > 0.6 and luminance(fills[fc5]) < 0.45  # pale, deep
        # every coloured box, ops included, by the norm its label prints
        printed = {key: float(lines[-1].split()[-1]) for key, lines in labels.items()
                   if lines[-1].startswith(("\u2016grad\u2016", "rms grad"))}
        assert len(printed) >= 19  # each layer's weight, Linear and sigmoid; 4 of the biases
        for small in printed:
            for large in printed:
                if printed[small] < printed[large]:
                    assert luminance(fills[small]) >= luminance(fills[large]), (small, large)


def test_the_legend_spans_the_smallest_to_the_largest_norm() -> None:
    model, x, y, loss = sigmoid5_after_backward()
    dot = to_dot(loss, model=model)
    legend = next(line for line in dot.splitlines() if line.strip().startswith("legend"))
    ticks = [float(t) for t in re.findall(r">([0-9.]+e[+-]\d+)<", legend)]
    flow = gradient_flow(loss)
    norms = [flow.norm(p) for p in model.parameters()] + [1.0]
    assert ticks == sorted(ticks) and len(ticks) == 5
    assert math.isclose(ticks[-1], 1.0)  # dloss/dloss
    assert ticks[0] <= min(norms) * 1.5
    assert gradient_colour(ticks[0], ticks[0], ticks[-1]) == "#f7fbff"
    assert luminance(gradient_colour(1e-3, 1e-9, 1.0)) > luminance(gradient_colour(1e-2, 1e-9, 1))


def test_gradients_appear_after_backward_or_on_request() -> None:
    a = leaf([1.0, -1.0])
    loss = (a * 3.0).sum()
    before, _, _ = parse(to_dot(loss))
    assert not any(line.startswith("grad") for lines in before.values() for line in lines)
    asked, _, _ = parse(to_dot(loss, gradients=True))
    assert a.grad is None
    assert "grad [3, 3]" in asked[box(asked, "leaf")]
    loss.backward(retain_graph=True)
    after, _, _ = parse(to_dot(loss))
    assert "grad [3, 3]" in after[box(after, "leaf")]
    hidden, _, _ = parse(to_dot(loss, gradients=False))
    assert hidden == before


def test_a_non_scalar_root_takes_its_seed_and_a_non_finite_gradient_stands_out() -> None:
    a = leaf([1.0, 2.0])
    out = a * 3.0
    with pytest.raises(ValueError, match="grad="):
        to_dot(out, gradients=True)
    labels, _, _ = parse(to_dot(out, gradients=gradient_flow(out, np.array([1.0, -1.0]))))
    assert "grad [3, -3]" in labels[box(labels, "leaf")]
    with np.errstate(divide="ignore"):
        log = leaf([0.0, 1.0]).log().sum()  # d log(x)/dx = 1/x: inf at 0
        labels, fills, _ = parse(to_dot(log, gradients=True))
    assert fills[box(labels, "leaf")] == "#e6550d"


def test_a_released_graph_is_an_error_that_says_what_to_do() -> None:
    a = leaf(np.ones(3))
    loss = a.sigmoid().sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        to_dot(loss)


# ==================================================================== depth and size
def test_max_depth_draws_the_boxes_near_the_root_and_marks_the_cut() -> None:
    a = leaf(np.ones(3))
    out = a
    for _ in range(6):
        out = out.tanh()
    labels, _, edges = parse(to_dot(out, max_depth=2))
    assert [lines[0] for lines in labels.values()] == ["Tanh"] * 3
    assert '[style=dashed]' in to_dot(out, max_depth=2)
    root_only, _, _ = parse(to_dot(out, max_depth=0))
    assert len(root_only) == 1
    everything, _, _ = parse(to_dot(out))
    assert len(everything) == 7


def test_the_node_limit_names_the_option_to_raise_it() -> None:
    a = leaf(np.ones(2))
    out = a
    for _ in range(9):
        out = out.sigmoid()
    with pytest.raises(ValueError, match=r"10 boxes.*max_nodes=5.*max_nodes=10"):
        to_dot(out, max_nodes=5)
    assert len(parse(to_dot(out, max_nodes=10))[0]) == 10
    assert len(parse(to_dot(out, max_nodes=5, max_depth=3))[0]) == 4


@pytest.mark.parametrize("option, value", [("norm", "row"), ("max_depth", -1),
                                           ("max_nodes", 0), ("rankdir", "up")])
def test_bad_options_are_refused_by_name(option, value) -> None:
    with pytest.raises(ValueError, match=option):
        to_dot(leaf(1.0) * 2.0, **{option: value})


# ==================================================================== rendering
def needs_dot() -> None:
    """Rendering needs the graphviz package and the dot program; in CI both must be there."""
    problems = []
    try:
        import graphviz  # noqa: F401
    except ImportError:
        problems.append('the graphviz package (pip install -e ".[notebook]")')
    if shutil.which("dot") is None:
        problems.append("the Graphviz dot program (apt-get install graphviz)")
    if problems:
        message = "rendering needs " + " and ".join(problems)
        if IN_CI:
            pytest.fail(f"{message}; .ci/run installs them")
        pytest.skip(message)


def test_draw_graph_renders_svg_and_png_through_dot(tmp_path) -> None:
    needs_dot()
    model, x, y, loss = sigmoid5_after_backward()
    drawing = draw_graph(loss, tmp_path / "graph.svg", model=model, names={"x": x})
    assert isinstance(drawing, GraphDrawing) and drawing.format == "svg"
    svg = (tmp_path / "graph.svg").read_text()
    assert svg == drawing._repr_svg_() and "<svg" in svg
    assert "fc1.weight" in svg and "fc5: Linear" in svg
    for fill in set(parse(drawing.dot)[1].values()):
        assert fill in svg  # dot kept the gradient colours
    png = draw_graph(loss, format="png", model=model)
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n" and png._repr_png_() == png.data
    assert png._repr_svg_() is None


def test_a_missing_dot_program_says_how_to_install_it(monkeypatch, tmp_path) -> None:
    needs_dot()
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot on PATH
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        draw_graph(leaf(1.0) * 2.0)


def test_a_missing_graphviz_package_names_the_extra() -> None:
    script = ("import sys; sys.modules['graphviz'] = None\n"  # as if it were not installed
              "from tinygrad_edu import Tensor\n"
              "from tinygrad_edu.viz import draw_graph\n"
              "try:\n"
              "    draw_graph(Tensor(1.0, requires_grad=True) * 2.0)\n"
              "except ImportError as error:\n"
              "    print(error)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=60)
    assert 'pip install "tinygrad-edu[notebook]"' in result.stdout


def test_draw_graph_refuses_an_unknown_format(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        draw_graph(leaf(1.0) * 2.0, tmp_path / "graph.gif")
