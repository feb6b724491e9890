"""The graph that `backward()` walks, drawn, and coloured by the size of the gradient at each node.

    from tinygrad_edu.viz import draw_graph, to_dot
    loss = nn.binary_cross_entropy(model(x), y)
    draw_graph(loss, model=model, gradients=True, path="graph.svg")   # in Jupyter: shown inline
    text = to_dot(loss, model=model)                                   # Graphviz DOT, no dependency

Every box is a tensor: a leaf (a parameter named as in `model.named_parameters()`, e.g.
`fc1.weight`, or a constant such as the data x) or the result of an op (its name and output
shape). Arrows go the way the data flows, from the inputs to the root; backward walks them the
other way.

**Which gradient a node shows.** A leaf keeps its gradient in `.grad`, but an op's result does not:
the engine hands dRoot/dNode on to the node's inputs and forgets it. So this module walks the graph
itself (`gradient_flow`), the way `backward()` does, in reverse topological order, summing what
reaches each node, and records the norm ||dRoot/dNode|| at every node. It asks each op for its
vector-Jacobian product, exactly as the engine does, but writes no `.grad` and frees nothing, so
drawing never changes the tensors and the engine stays as short and as fast as it was. After one
`backward()` from zeroed gradients, a leaf's norm here is the norm of its `.grad`.

The colour of a node is log10 of that norm, scaled between the smallest and the largest norm in
the picture: the palest box got the least gradient. In a deep sigmoid net with small weights,
fc1.weight comes out pale and fc5.weight deep: the vanishing gradient, on the graph itself.

`draw_graph` renders through the `graphviz` Python package (`pip install "tinygrad-edu[notebook]"`)
and the Graphviz `dot` program (an OS package: `apt-get install graphviz`); `to_dot` needs neither.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.nn.layers import Linear
from tinygrad_edu.tensor import Tensor

DEFAULT_MAX_NODES = 500   # dot lays out 500 boxes in well under a second; a bigger picture is
                          # rarely readable, so more needs asking for (max_nodes=...)
VALUE_ELEMENTS = 4        # tensors with at most this many elements show their values, like
                          # micrograd's scalars
FORMATS = ("svg", "png", "pdf")
NORMS = ("node", "element")

# A sequential palette from pale to deep (ColorBrewer "Blues", 9 classes): the log of the gradient
# norm is mapped onto it, the smallest norm to the first colour and the largest to the last.
PALETTE = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6",
           "#4292c6", "#2171b5", "#08519c", "#08306b")
NO_GRADIENT_FILL = "#ffffff"   # constants: nothing flows into them
ZERO_GRADIENT_FILL = "#e0e0e0"  # on the path, but the gradient is exactly 0 (a dead ReLU, ...)
NOT_FINITE_FILL = "#e6550d"     # NaN or inf in the gradient: it stands out from the blues


# ==================================================================== the graph and its gradients
def graph_nodes(root: Tensor) -> list[Tensor]:
    """Every tensor `root` depends on through recorded ops, each after all of its inputs.

    An iterative depth-first search (a recursive one overflows Python's stack on long chains).
    Unlike the engine's walk it keeps the constants too (the data x, the labels y, the 1 in
    1 - p): they belong in the picture even though no gradient flows into them.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"the root of a graph must be a Tensor, got {type(root).__name__}")
    order: list[Tensor] = []
    expanded: set[int] = set()  # ids of the nodes whose inputs were pushed
    placed: set[int] = set()    # ids of the nodes already in `order`
    stack = [root]
    while stack:
        node = stack[-1]
        key = id(node)
        if key in expanded:  # second visit: all its inputs are in `order` by now
            stack.pop()
            if key not in placed:
                placed.add(key)
                order.append(node)
            continue
        expanded.add(key)
        ctx = node._ctx
        if ctx is None:
            continue
        if ctx.released:
            raise RuntimeError(
                f"the graph below this tensor was released by backward() (at "
                f"{type(ctx).__name__}), so nothing is left to draw. Draw before backward() "
                f"(gradients=True computes the gradients without it), or call "
                f"backward(retain_graph=True) first."
            )
        stack.extend(parent for parent in ctx.parents if id(parent) not in expanded)
    return order


class GradientFlow:
    """What reached every node of a graph in one backward walk: ||dRoot/dNode|| per node.

    Made by `gradient_flow(root)`. `norm(t)` is the Frobenius norm of dRoot/dt (None where no
    gradient flows: constants); `gradient(t)` is the whole array for tensors of at most
    VALUE_ELEMENTS elements. It keeps `root` (and so the graph) alive while it lives, because it
    identifies the nodes by id().
    """

    def __init__(self, root: Tensor, norms: dict[int, float],
                 small_gradients: dict[int, np.ndarray]) -> None:
        self.root = root
        self._norms = norms
        self._small_gradients = small_gradients

    def norm(self, tensor: Tensor) -> float | None:
        return self._norms.get(id(tensor))

    def gradient(self, tensor: Tensor) -> np.ndarray | None:
        return self._small_gradients.get(id(tensor))

    def __len__(self) -> int:
        return len(self._norms)


def gradient_flow(root: Tensor, grad: Any = None) -> GradientFlow:
    """Walk the graph backwards from `root` as backward() does, recording ||dRoot/dNode|| at
    every node that needs a gradient, ops included. Writes no `.grad` and frees nothing.

    The walk (the chain rule, as in tensor.py): in reverse topological order, each node's
    gradient is the sum of what its consumers sent it; the node's op turns it into one gradient
    per input with its vector-Jacobian product (ctx.backward). `grad` is dRoot/dRoot: omit it for
    a one-element root (it is 1), give an array of root's shape otherwise.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"gradient_flow: root must be a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        raise ValueError("gradient_flow: the root does not require a gradient (no input had "
                         "requires_grad=True, or it was computed under no_grad()): no gradient "
                         "flows through its graph. Pass gradients=False to draw it without.")
    if grad is None:
        if root.size != 1:
            raise ValueError(f"gradient_flow: a root of shape {root.shape} needs grad= (an "
                             f"array of that shape); only a one-element root starts from 1. "
                             f"To draw it: to_dot(root, gradients=gradient_flow(root, grad))")
        seed = np.ones_like(root.data)
    else:
        seed = np.asarray(grad, dtype=root.dtype)
        if seed.shape != root.shape:
            raise ValueError(f"gradient_flow: grad has shape {seed.shape}, the root {root.shape}")
    nodes = graph_nodes(root)
    pending: dict[int, np.ndarray] = {id(root): seed}  # dRoot/dNode, summed over all paths
    norms: dict[int, float] = {}
    small_gradients: dict[int, np.ndarray] = {}
    for node in reversed(nodes):  # each node after every node that uses it
        node_grad = pending.pop(id(node), None)
        if node_grad is None:  # a constant, or no path from the root carried a gradient here
            continue
        norms[id(node)] = float(np.linalg.norm(node_grad))  # Frobenius norm for a matrix
        if node.size <= VALUE_ELEMENTS:
            small_gradients[id(node)] = np.array(node_grad)
        ctx = node._ctx
        if ctx is None:
            continue
        input_grads = ctx.backward(node_grad)  # the op's VJP, exactly as the engine asks for it
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, parent_grad in zip(ctx.parents, input_grads, strict=True):
            if parent_grad is None or not parent.requires_grad:
                continue
            key = id(parent)
            pending[key] = pending[key] + parent_grad if key in pending else parent_grad
    return GradientFlow(root, norms, small_gradients)


def gradient_colour(value: float, low: float, high: float) -> str:
    """The palette colour (#rrggbb) of `value` on a log scale: `low` palest, `high` deepest."""
    if high > low:
        position = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    else:
        position = 1.0  # one value only: draw it deep
    position = min(max(position, 0.0), 1.0) * (len(PALETTE) - 1)
    index = min(int(position), len(PALETTE) - 2)
    fraction = position - index
    start, end = _rgb(PALETTE[index]), _rgb(PALETTE[index + 1])
    mixed = (round(a + (b - a) * fraction) for a, b in zip(start, end, strict=True))
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def luminance(colour: str) -> float:
    """Relative luminance of #rrggbb in [0, 1] (Rec. 709 weights): 1 is white, 0 black."""
    red, green, blue = _rgb(colour)
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


# ==================================================================== DOT text
def to_dot(
    root: Tensor, *, model: Any = None, names: Mapping[str, Tensor] | None = None,
    gradients: bool | GradientFlow | None = None, group_linear: bool = True,
    norm: str = "node", max_depth: int | None = None, max_nodes: int = DEFAULT_MAX_NODES,
    values: int = VALUE_ELEMENTS, rankdir: str = "LR", title: str | None = None,
) -> str:
    """The graph of `root` as Graphviz DOT text (pure Python: render it with draw_graph or `dot`).

    model:        a Module: its parameters are labelled by name (fc1.weight, ...), and with
                  group_linear its Linear layers are drawn as one box each
    names:        more labels, {"x": x, "y": y}
    gradients:    None (default): shown when backward() has run (a leaf in the graph has .grad);
                  True: computed now (no backward needed); False: not shown; or a GradientFlow
    group_linear: one box per Linear layer of `model` (W @ x and + b); False: one box per op
    norm:         "node": ||dRoot/dNode|| (Frobenius); "element": that / sqrt(size), the
                  root-mean-square gradient per element (compares a 12288 x 30 weight fairly
                  with a 30 x 30 one)
    max_depth:    draw only the nodes at most this many arrows from the root (0: the root)
    max_nodes:    refuse (ValueError) to draw more boxes than this
    values:       show the values (and gradients) of tensors with at most this many elements
    rankdir:      "LR" (inputs left, root right), "TB", "RL" or "BT"
    """
    _check_options(group_linear, norm, max_depth, max_nodes, values, rankdir)
    labels = _names(model, names)
    nodes = graph_nodes(root)

    consumers: dict[int, list[Tensor]] = {}
    for node in nodes:
        for parent in node._ctx.parents if node._ctx is not None else ():
            consumers.setdefault(id(parent), []).append(node)
    layers = _linear_boxes(model, nodes, consumers) if group_linear and model is not None else {}
    hidden = {member for members in (box[1] for box in layers.values()) for member in members}

    def drawn_inputs(node: Tensor) -> list[Tensor]:
        """The inputs of a box: an op's inputs, or for a Linear box, those of W @ x and + b."""
        inputs: list[Tensor] = []
        for parent in node._ctx.parents if node._ctx is not None else ():
            inputs.extend(drawn_inputs(parent) if id(parent) in hidden else [parent])
        return inputs

    # Breadth first from the root: a box's depth is its distance in arrows from the root.
    depth = {id(root): 0}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            if max_depth is not None and depth[id(node)] >= max_depth:
                continue
            for parent in drawn_inputs(node):
                if id(parent) not in depth:
                    depth[id(parent)] = depth[id(node)] + 1
                    following.append(parent)
        frontier = following
    boxes = [node for node in nodes if id(node) in depth]
    if len(boxes) > max_nodes:
        raise ValueError(
            f"to_dot: the graph has {len(boxes)} boxes to draw, more than max_nodes={max_nodes}. "
            f"Pass max_nodes={len(boxes)} (or more) to draw it all, max_depth=N to draw only "
            f"the boxes within N arrows of the root"
            + (", or model= with group_linear=True for one box per Linear layer"
               if not layers else "") + "."
        )
    dot_id = {id(node): f"n{index}" for index, node in enumerate(boxes)}
    flow = _resolve_gradients(root, nodes, gradients)  # after the size check: it costs a walk

    def measured(node: Tensor) -> float | None:
        value = flow.norm(node) if flow is not None else None
        if value is not None and norm == "element":
            value /= math.sqrt(max(node.size, 1))
        return value

    sizes = [value for value in map(measured, boxes)
             if value is not None and value > 0 and math.isfinite(value)]
    low, high = (min(sizes), max(sizes)) if sizes else (1.0, 1.0)

    lines = [f"digraph {_quote(title or 'graph')} {{",
             f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=10, style=filled, '
             f'fillcolor="{NO_GRADIENT_FILL}"];',
             '  edge [color="#555555", arrowsize=0.6];']
    if title:
        lines.append(f"  label={_quote(title)}; labelloc=t; fontname=Helvetica;")
    for node in boxes:
        text = _box_text(node, labels, layers, flow, norm, values)
        attributes = [f"label={_quote(text)}"]
        if id(node) in layers:
            attributes.append('shape=box, style="rounded,filled", penwidth=1.5')
        elif node._ctx is None:
            attributes.append("shape=box")
        else:
            attributes.append("shape=ellipse")
        value = measured(node)
        if value is not None:
            if not math.isfinite(value):
                attributes.append(f'fillcolor="{NOT_FINITE_FILL}"')
            elif value > 0:
                fill = gradient_colour(value, low, high)
                attributes.append(f'fillcolor="{fill}"')
                if luminance(fill) < 0.45:
                    attributes.append('fontcolor="white"')
            else:
                attributes.append(f'fillcolor="{ZERO_GRADIENT_FILL}"')
        elif flow is not None or (node._ctx is None and not node.requires_grad):
            attributes.append('color="#999999", fontcolor="#555555"')
        lines.append(f"  {dot_id[id(node)]} [{', '.join(attributes)}];")
    for node in boxes:
        cut = False
        for parent in drawn_inputs(node):
            if id(parent) in dot_id:
                lines.append(f"  {dot_id[id(parent)]} -> {dot_id[id(node)]};")
            else:
                cut = True
        if cut:  # max_depth stopped here: say that the graph goes on
            stub = f"{dot_id[id(node)]}_more"
            lines.append(f'  {stub} [label="...", shape=plaintext, style=""];')
            lines.append(f"  {stub} -> {dot_id[id(node)]} [style=dashed];")
    if sizes:
        lines.append(_legend(low, high, norm))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _check_options(group_linear: Any, norm: Any, max_depth: Any, max_nodes: Any, values: Any,
                   rankdir: Any) -> None:
    def is_int(value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    if not isinstance(group_linear, bool):
        raise TypeError(f"to_dot: group_linear must be True or False, got {group_linear!r}")
    if norm not in NORMS:
        raise ValueError(f"to_dot: norm must be one of {NORMS}, got {norm!r}")
    if max_depth is not None and not (is_int(max_depth) and max_depth >= 0):
        raise ValueError(f"to_dot: max_depth must be None or an integer >= 0, got {max_depth!r}")
    if not (is_int(max_nodes) and max_nodes >= 1):
        raise ValueError(f"to_dot: max_nodes must be an integer >= 1, got {max_nodes!r}")
    if not (is_int(values) and values >= 0):
        raise ValueError(f"to_dot: values must be an integer >= 0, got {values!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"to_dot: rankdir must be LR, RL, TB or BT, got {rankdir!r}")


def _names(model: Any, names: Mapping[str, Tensor] | None) -> dict[int, str]:
    """id(tensor) -> its label: the model's parameter names, then the names given."""
    labels: dict[int, str] = {}
    if model is not None:
        if not hasattr(model, "named_parameters"):
            raise TypeError(f"to_dot: model must be a Module (with named_parameters()), got "
                            f"{type(model).__name__}; pass other tensors as names={{'x': x}}")
        for name, tensor in model.named_parameters():
            labels[id(tensor)] = name
    if names is not None:
        if not isinstance(names, Mapping):
            raise TypeError(f"to_dot: names must be a mapping such as {{'x': x}}, got "
                            f"{type(names).__name__}")
        for name, tensor in names.items():
            if not isinstance(tensor, Tensor):
                raise TypeError(f"to_dot: names[{name!r}] must be a Tensor, got "
                                f"{type(tensor).__name__}")
            labels[id(tensor)] = str(name)
    return labels


def _resolve_gradients(root: Tensor, nodes: Iterable[Tensor],
                       gradients: bool | GradientFlow | None) -> GradientFlow | None:
    if isinstance(gradients, GradientFlow):
        if gradients.root is not root:
            raise ValueError("to_dot: gradients= is a GradientFlow of another root; make it with "
                             "gradient_flow(root) for the tensor you draw")
        return gradients
    if gradients is None:  # automatic: after a backward(), some leaf of the graph has .grad
        # (only for a one-element root such as a loss: another root's walk needs its grad=,
        # given as gradients=gradient_flow(root, grad))
        gradients = root.requires_grad and root.size == 1 and any(
            node._ctx is None and node.grad is not None for node in nodes)
    elif not isinstance(gradients, bool):
        raise TypeError(f"to_dot: gradients must be None, True, False or a GradientFlow, got "
                        f"{type(gradients).__name__}")
    return gradient_flow(root) if gradients else None


def _linear_boxes(model: Any, nodes: list[Tensor],
                  consumers: dict[int, list[Tensor]]) -> dict[int, tuple[str, list[int]]]:
    """The Linear layers of `model` found in the graph: id(output) -> (layer name, ids of the
    nodes the box hides). z = W @ x + b is drawn as one box standing for the Add's output, and
    hides the MatMul; a layer without bias is its MatMul alone, relabelled."""
    layer_of_weight = {id(module.weight): (name, module) for name, module in model.named_modules()
                       if isinstance(module, Linear)}
    boxes: dict[int, tuple[str, list[int]]] = {}
    for node in nodes:
        ctx = node._ctx
        if not isinstance(ctx, ops.MatMul) or id(ctx.parents[0]) not in layer_of_weight:
            continue
        name, layer = layer_of_weight[id(ctx.parents[0])]
        users = consumers.get(id(node), [])
        if (layer.bias is not None and len(users) == 1 and users[0]._ctx is not None
                and isinstance(users[0]._ctx, ops.Add)
                and users[0]._ctx.parents[0] is node and users[0]._ctx.parents[1] is layer.bias):
            boxes[id(users[0])] = (name, [id(node)])
        else:
            boxes[id(node)] = (name, [])
    return boxes


def _box_text(node: Tensor, labels: dict[int, str], layers: dict[int, tuple[str, list[int]]],
              flow: GradientFlow | None, norm: str, values: int) -> str:
    shape = "scalar" if node.ndim == 0 else str(node.shape)
    if node.dtype != np.float64:
        shape += f" {node.dtype}"
    if id(node) in layers:
        name, merged = layers[id(node)]
        head = [f"{name}: Linear", "W @ x + b" if merged else "W @ x"]
    elif node._ctx is not None:
        head = [type(node._ctx).__name__]
    else:
        head = [labels.get(id(node), "leaf" if node.requires_grad else "constant")]
    if node._ctx is not None and id(node) in labels:  # a named intermediate result
        head[0] = f"{labels[id(node)]} = {head[0]}"
    text = [*head, shape]
    if node.size <= values:
        text.append(f"data {_numbers(node.data)}")
    if flow is not None:
        small = flow.gradient(node) if node.size <= values else None
        size = flow.norm(node)
        if small is not None:
            text.append(f"grad {_numbers(small)}")
        elif size is not None and norm == "element":
            text.append(f"rms grad {size / math.sqrt(max(node.size, 1)):.2e}")
        elif size is not None:
            text.append(f"\u2016grad\u2016 {size:.2e}")
    return "\n".join(text)


def _numbers(array: np.ndarray) -> str:
    flat = np.asarray(array).ravel()
    if flat.size == 1:
        return f"{flat[0]:.4g}"
    return "[" + ", ".join(f"{value:.4g}" for value in flat) + "]"


def _legend(low: float, high: float, norm: str) -> str:
    """A strip of swatches from the palest to the deepest colour, labelled with their norms."""
    steps = 5 if high > low else 1
    ticks = ([low * (high / low) ** (k / (steps - 1)) for k in range(steps)] if steps > 1
             else [high])
    what = "\u2016grad\u2016 per node" if norm == "node" else "rms grad per element"
    cells = ""
    for tick in ticks:
        fill = gradient_colour(tick, low, high)
        ink = "white" if luminance(fill) < 0.45 else "black"
        cells += f'<td bgcolor="{fill}"><font color="{ink}">{tick:.0e}</font></td>'
    return (f'  legend [shape=plaintext, style="", label=<<table border="0" cellborder="1" '
            f'cellspacing="0" cellpadding="4"><tr><td colspan="{steps}">{what} (log scale)'
            f"</td></tr><tr>{cells}</tr></table>>];")


def _quote(text: str) -> str:
    """A DOT string: double quotes, with backslashes and quotes escaped, newlines as \\n."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# ==================================================================== rendering
class GraphDrawing:
    """A rendered graph: `dot` (the DOT text), `format` ("svg", "png" or "pdf"), `data` (the
    file's bytes) and `path` (where it was written, if anywhere). Jupyter displays it inline."""

    def __init__(self, dot: str, format: str, data: bytes, path: Path | None) -> None:  # noqa: A002
        self.dot, self.format, self.data, self.path = dot, format, data, path

    def _repr_svg_(self) -> str | None:
        return self.data.decode("utf-8") if self.format == "svg" else None

    def _repr_png_(self) -> bytes | None:
        return self.data if self.format == "png" else None

    def save(self, path: str | os.PathLike[str]) -> Path:
        path = Path(path)
        path.write_bytes(self.data)
        return path

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        return f"GraphDrawing(format={self.format!r}, {len(self.data)} bytes{where})"


def render(dot_text: str, format: str = "svg") -> bytes:  # noqa: A002 (graphviz's own name)
    """DOT text to SVG, PNG or PDF bytes, through the graphviz package and the `dot` program."""
    if format not in FORMATS:
        raise ValueError(f"render: format must be one of {FORMATS}, got {format!r}")
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "drawing a graph needs the graphviz Python package: "
            'pip install "tinygrad-edu[notebook]" (or pip install graphviz), and the Graphviz '
            "dot program from your OS packages. "
            "to_dot() gives the DOT text without either."
        ) from None
    try:
        return graphviz.Source(dot_text).pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            "drawing a graph needs the Graphviz program `dot`, which is not on PATH. Install it "
            "with your OS package manager: apt-get install graphviz (Debian, Ubuntu), "
            "dnf install graphviz (Fedora), brew install graphviz (macOS), or "
            "conda install graphviz. to_dot() gives the DOT text without it."
        ) from None
    except graphviz.CalledProcessError as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) \
            else str(error.stderr)
        raise RuntimeError(f"the Graphviz program dot failed on this graph: {stderr.strip()}") \
            from None


def draw_graph(root: Tensor, path: str | os.PathLike[str] | None = None, *,
               format: str | None = None, **options: Any) -> GraphDrawing:  # noqa: A002
    """Draw the graph of `root` to SVG (default), PNG or PDF; write it to `path` if given.

    The format is `format`, else the suffix of `path`, else SVG. `options` are to_dot's
    (model=, names=, gradients=, group_linear=, norm=, max_depth=, max_nodes=, values=,
    rankdir=, title=). Returns a GraphDrawing, which Jupyter shows inline.
    """
    if format is None:
        suffix = Path(path).suffix.lower().lstrip(".") if path is not None else ""
        if path is not None and suffix not in FORMATS:
            raise ValueError(f"draw_graph: cannot tell the format from {str(path)!r}; name the "
                             f"file .svg, .png or .pdf, or pass format=")
        format = suffix or "svg"  # noqa: A001
    if format not in FORMATS:
        raise ValueError(f"draw_graph: format must be one of {FORMATS}, got {format!r}")
    dot_text = to_dot(root, **options)
    data = render(dot_text, format)
    written = None
    if path is not None:
        written = Path(path)
        written.write_bytes(data)
    return GraphDrawing(dot_text, format, data, written)
