"""Pictures of gradient flow from `MonitorRecords`: PNG files, drawn without a display.

Each function takes records (from `GradientMonitor.records()` or `MonitorRecords.load`) and an
output path, writes a PNG and returns the path:

* `plot_dw_per_neuron`: ||dW^[l]_j||_2 of every neuron j against the iteration, one panel per
  hidden layer, a shared log-scale y axis (the course's dw_sigmoid_4layers.png and friends);
* `plot_speed_of_learning`: ||db^[l]||_2 (Nielsen's speed of learning) and ||dW^[l]||_F of each
  hidden layer against the iteration, log scale (the course's speed_learning.png);
* `plot_loss_curves`: the loss of several experiments on one figure;
* `plot_activation_stats`: per hidden layer, z and a (mean +- std) and the saturated / dead
  fractions, at the first and the last recorded iteration;
* `plot_theory_overlay`: the variance argument's prediction (`tinygrad_edu.theory`) beside the
  measurement at iteration 0, per layer: the std of z and the gradient ratio;
* `plot_update_ratio`: ||lr dW^[l]||_F / ||W^[l]||_F per layer against the iteration, with
  makemore's guide line at 1e-3.

The figures are built with `matplotlib.figure.Figure`, not pyplot: no window, no global backend
switch, nothing left open. Margins are set by hand (`subplots_adjust`): matplotlib's automatic
layouts measured two to three times slower on log axes, and the study draws some thirty figures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tinygrad_edu.monitor import MonitorRecords
from tinygrad_edu.theory import Prediction, measured_at_init

UPDATE_RATIO_GUIDE = 1e-3  # Karpathy's rule of thumb for a healthy update:data ratio
FIGSIZE = (10.0, 6.0)  # inches; at DPI this is 1500 x 900 pixels
DPI = 150


def _title(records: MonitorRecords, what: str, title: str | None) -> str:
    if title is not None:
        return title
    name = records.meta.get("experiment", "")
    seed = records.meta.get("seed")
    label = f"{name} (seed {seed})" if name and seed is not None else name
    return f"{label}: {what}" if label else what


def _hidden_count(records: MonitorRecords) -> int:
    """The number of hidden Linear layers (all but the output layer)."""
    return max(len(records.layer_names) - 1, 1)


def _grid(count: int) -> tuple[int, int]:
    """Rows and columns for `count` panels: one row up to 3, then two rows."""
    if count <= 3:
        return 1, count
    return 2, int(np.ceil(count / 2))


def _integer_iterations(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))  # fewer when narrow


def _margins(fig: Figure, left: float, right: float, bottom: float, top: float,
             **spacing: float) -> None:
    """Margins in inches (text has a fixed size in points, so they hold at any figure size)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, **spacing)


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def plot_dw_per_neuron(records: MonitorRecords, path: str | os.PathLike[str],
                       title: str | None = None, figsize: tuple[float, float] = FIGSIZE,
                       dpi: int = DPI) -> Path:
    """||dW^[l]_j||_2 for every neuron j of each hidden layer l against the iteration.

    One panel per hidden layer, all sharing one log-scale y axis so that the layers compare at a
    glance: with sigmoid and small weights, layer 1's curves lie orders of magnitude below the
    last hidden layer's. Neurons whose gradient is exactly 0 throughout (dead ReLU units) cannot
    appear on a log scale; each panel counts them.
    """
    hidden = _hidden_count(records)
    rows, cols = _grid(hidden)
    fig = Figure(figsize=figsize, dpi=dpi)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    x = records.iterations
    for layer in range(hidden):
        ax = axes[layer]
        norms = records.dw_neuron_norms[layer]  # (T, n_l)
        colours = _neuron_colours(norms.shape[1])
        for neuron in range(norms.shape[1]):
            values = np.where(norms[:, neuron] > 0, norms[:, neuron], np.nan)  # log: hide zeros
            ax.plot(x, values, color=colours[neuron], linewidth=0.7, alpha=0.85)
        never_moving = int(np.sum(~np.any(norms > 0, axis=0)))
        extra = (f"\n{never_moving} neuron{'s' if never_moving > 1 else ''} with dW = 0 "
                 f"throughout (not drawn)" if never_moving else "")
        ax.set_title(f"layer {layer + 1} ({records.layer_names[layer]}, "
                     f"{norms.shape[1]} neurons){extra}", fontsize=10, y=1.0)
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)
        if layer % cols == 0:
            ax.set_ylabel(r"$\|dW^{[l]}_j\|_2$ per neuron")
        if layer >= hidden - cols:
            ax.set_xlabel("iteration")
        _integer_iterations(ax)
    for ax in axes[hidden:]:
        ax.set_visible(False)
    _margins(fig, left=0.8, right=0.15, bottom=0.55, top=0.9 if rows == 1 else 0.8,
             wspace=0.06, hspace=0.38)
    fig.suptitle(_title(records, "size of dW at every neuron of the hidden layers", title))
    return _save(fig, path)


def _neuron_colours(count: int) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["viridis"](np.linspace(0.0, 0.9, max(count, 1)))


def plot_speed_of_learning(records: MonitorRecords, path: str | os.PathLike[str],
                           title: str | None = None, figsize: tuple[float, float] = FIGSIZE,
                           dpi: int = DPI) -> Path:
    """Speed of learning of each hidden layer against the iteration, log scale.

    Left: ||db^[l]||_2 (Nielsen's speed of learning of layer l); right: ||dW^[l]||_F. A layer
    whose curve sits far below the others barely moves when the step is taken.
    """
    hidden = _hidden_count(records)
    fig = Figure(figsize=figsize, dpi=dpi)
    left, right = fig.subplots(1, 2, sharex=True)
    x = records.iterations
    colours = _layer_colours(hidden)
    for layer in range(hidden):
        label = f"layer {layer + 1} ({records.layer_names[layer]})"
        for ax, values in ((left, records.db_norm[:, layer]), (right, records.dw_norm[:, layer])):
            ax.plot(x, np.where(values > 0, values, np.nan), color=colours[layer],
                    linewidth=1.5, label=label)
    left.set_title(r"speed of learning $\|db^{[l]}\|_2$", fontsize=11, y=1.0)
    right.set_title(r"$\|dW^{[l]}\|_F$", fontsize=11, y=1.0)
    left.set_ylabel("gradient norm (log scale)")
    for ax in (left, right):
        _compact_log_axis(ax.yaxis)
        ax.set_xlabel("iteration")
        _integer_iterations(ax)
        ax.grid(True, which="major", alpha=0.3)
    left.legend(fontsize=9, loc="best")
    _margins(fig, left=0.8, right=0.15, bottom=0.55, top=0.85, wspace=0.25)
    fig.suptitle(_title(records, "speed of learning of the hidden layers", title))
    return _save(fig, path)


def _compact_log_axis(axis) -> None:
    """A log scale labelled 1e-05, 5e-06: narrower than 10^-5 and 5x10^-6, which on a range of
    less than a decade (where matplotlib labels the minor ticks too) ran into the next panel."""
    from matplotlib.ticker import LogFormatter

    axis.axes.set_yscale("log")
    axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.5)))


def _layer_colours(count: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return [palette(i % 10) for i in range(count)]


def plot_loss_curves(records_by_name: Mapping[str, MonitorRecords],
                     path: str | os.PathLike[str], title: str | None = None,
                     dashed: tuple[str, ...] = (), figsize: tuple[float, float] = FIGSIZE,
                     dpi: int = DPI) -> Path:
    """The loss of every experiment against the iteration on one log-scale figure.

    `records_by_name` maps a legend label to records; names in `dashed` are drawn dashed (the
    benchmark dashes its own additions to tell them from the course's experiments).
    """
    if not records_by_name:
        raise ValueError("plot_loss_curves: no records to plot")
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.subplots()
    colours = _layer_colours(len(records_by_name))
    for colour, (name, records) in zip(colours, records_by_name.items(), strict=True):
        ours = name in dashed  # thinner and on top: an identical course curve shows beneath
        ax.plot(records.iterations, records.loss, color=colour, label=name,
                linewidth=1.3 if ours else 2.2, linestyle="--" if ours else "-",
                zorder=3 if ours else 2)
    _plain_log_axis(ax.yaxis)
    ax.set_xlabel("iteration")
    _integer_iterations(ax)
    ax.set_ylabel("training loss (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    # Outside the axes, on the right: inside, it would hide the curves that stay high.
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_title(title or "training loss of every experiment", y=1.0)
    _margins(fig, left=0.8, right=2.0, bottom=0.55, top=0.42)  # the legend: 2 in
    return _save(fig, path)


def _plain_log_axis(axis) -> None:
    """A log scale labelled 0.2, 0.5, 1 rather than 2x10^-1: losses span a decade or two."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.axes.set_yscale("log")
    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def plot_activation_stats(records: MonitorRecords, path: str | os.PathLike[str],
                          title: str | None = None, figsize: tuple[float, float] = FIGSIZE,
                          dpi: int = DPI) -> Path:
    """Per hidden layer, at the first and the last recorded iteration: z and a as mean +- std,
    and the fraction of saturated entries (sigmoid, tanh: |z| > threshold) or of dead units and
    zero activations (ReLU)."""
    if records.num_iterations == 0:
        raise ValueError("plot_activation_stats: the records are empty")
    hidden = len(records.hidden_names)
    layers = np.arange(1, hidden + 1)
    moments = ((0, "start", "tab:blue", -0.12), (-1, "end", "tab:orange", 0.12))
    first, last = int(records.iterations[0]), int(records.iterations[-1])
    when = {"start": f"iteration {first}", "end": f"iteration {last}"}
    fig = Figure(figsize=figsize, dpi=dpi)
    ax_z, ax_a, ax_frac = fig.subplots(1, 3)
    for row, label, colour, shift in moments:
        for ax, name in ((ax_z, "z"), (ax_a, "a")):
            ax.errorbar(layers + shift, records.stats[f"{name}_mean"][row],
                        yerr=records.stats[f"{name}_std"][row], fmt="o", capsize=4,
                        color=colour, label=f"{label} ({when[label]})")
    ax_z.set_title(r"$z^{[l]}$: mean $\pm$ std", fontsize=11, y=1.0)
    ax_a.set_title(r"$a^{[l]}$: mean $\pm$ std", fontsize=11, y=1.0)
    for ax in (ax_z, ax_a):
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.legend(fontsize=8)

    bars = []  # (short label, values per layer, hatch); the panel title defines the labels
    definitions = []
    if np.any(np.isfinite(records.stats["saturated"])):
        bars.append(("saturated", records.stats["saturated"], ""))
        definitions.append(f"saturated: |z| > {records.saturation_threshold:g}")
    if np.any(np.isfinite(records.stats["dead"])):
        bars.append(("dead", records.stats["dead"], "//"))
        bars.append(("a = 0", records.stats["zero"], ".."))
        definitions += ["dead: z <= 0 on every sample", "a = 0: zero activations"]
    width = 0.8 / (2 * max(len(bars), 1))
    position = -0.4 + width / 2
    for label, values, hatch in bars:
        for row, moment, colour, _ in moments:
            drawn = ax_frac.bar(layers + position, np.nan_to_num(values[row]), width=width,
                                color=colour, hatch=hatch, edgecolor="black", linewidth=0.5,
                                label=f"{label}, {moment}")
            # the value on each bar, so that 0 % reads as 0 % and not as "missing"
            ax_frac.bar_label(drawn, fmt="{:.0%}", fontsize=6, padding=2, rotation=90)
            position += width
    ax_frac.set_ylim(0.0, 1.35)  # room above 100 % for the values and the legend
    ax_frac.set_yticks(np.linspace(0.0, 1.0, 6))
    ax_frac.set_title("fraction of units\n" + "\n".join(definitions), fontsize=9, y=1.0)
    ax_frac.set_ylabel("fraction")
    if bars:
        wide = figsize[0] >= 9  # two legend columns fit a panel of a wide figure only
        ax_frac.legend(fontsize=7, loc="upper left", ncol=min(len(bars), 2 if wide else 1),
                       columnspacing=0.8)
    kinds = ", ".join(sorted(set(records.activations)))
    for ax in (ax_z, ax_a, ax_frac):
        ax.set_xticks(layers)
        ax.set_xlabel("hidden layer")
        ax.grid(True, axis="y", alpha=0.3)
    _margins(fig, left=0.7, right=0.15, bottom=0.6, top=0.5 + 0.17 * len(definitions),
             wspace=0.35)
    fig.suptitle(_title(records, f"{kinds} activations at the start and the end of training",
                        title))
    return _save(fig, path)


def plot_theory_overlay(prediction: Prediction,
                        records: MonitorRecords | Sequence[MonitorRecords],
                        path: str | os.PathLike[str], title: str | None = None,
                        figsize: tuple[float, float] = FIGSIZE, dpi: int = DPI) -> Path:
    """Predicted against measured at iteration 0, per layer, on log scales.

    Left: the std of z^[l] of each hidden layer; right: ||dW^[l]||_F / ||dW^[L-1]||_F of every
    layer (1 at the last hidden layer by definition). The prediction is a line, each record
    (seed) a small dot, their geometric mean a larger one: where the dots leave the line, an
    assumption of the variance argument fails (see `tinygrad_edu.theory`).
    """
    listed = [records] if isinstance(records, MonitorRecords) else list(records)
    measured = measured_at_init(listed)
    depth = prediction.depth
    if measured.gradient_ratio.shape[1] != depth:
        raise ValueError(f"plot_theory_overlay: the prediction has {depth} layers, the "
                         f"records {measured.gradient_ratio.shape[1]}")
    fig = Figure(figsize=figsize, dpi=dpi)
    left, right = fig.subplots(1, 2)
    hidden = np.arange(1, depth)
    layers = np.arange(1, depth + 1)
    panels = ((left, hidden, prediction.z_std[:depth - 1], measured.z_std,
               measured.z_std_mean, r"std of $z^{[l]}$ at iteration 0"),
              (right, layers, prediction.gradient_ratio, measured.gradient_ratio,
               measured.gradient_ratio_mean,
               r"$\|dW^{[l]}\|_F\,/\,\|dW^{[L-1]}\|_F$ at iteration 0"))
    for ax, x, predicted, per_seed, mean, label in panels:
        ax.plot(x, np.where(predicted > 0, predicted, np.nan), "-s", color="tab:blue",
                label="predicted (variance argument)", linewidth=1.8, markersize=6)
        for row in per_seed:
            ax.plot(x, np.where(row > 0, row, np.nan), "o", color="tab:orange", alpha=0.35,
                    markersize=4)
        seeds = per_seed.shape[0]
        ax.plot(x, np.where(mean > 0, mean, np.nan), "o", color="tab:orange", markersize=8,
                label=f"measured ({seeds} seed{'s' if seeds > 1 else ''}"
                      f"{', geometric mean' if seeds > 1 else ''})")
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xlabel("layer l")
        ax.set_title(label, fontsize=11, y=1.0)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    init = prediction.init if isinstance(prediction.init, str) else f"N(0, {prediction.init:g}^2)"
    what = (f"theory vs measurement at initialization ({prediction.activation}, {init}, "
            f"{'-'.join(str(n) for n in prediction.widths)})")
    _margins(fig, left=0.8, right=0.15, bottom=0.55, top=0.6, wspace=0.25)
    if title is None and len(listed) > 1:  # several seeds: name the experiment, not one seed
        name = listed[0].meta.get("experiment", "")
        title = f"{name}: {what}" if name else what
    fig.suptitle(_title(listed[0], what, title), fontsize=11)
    return _save(fig, path)


def plot_update_ratio(records: MonitorRecords, path: str | os.PathLike[str],
                      title: str | None = None, figsize: tuple[float, float] = FIGSIZE,
                      dpi: int = DPI) -> Path:
    """||lr dW^[l]||_F / ||W^[l]||_F of every layer against the iteration, log scale, with a
    guide line at UPDATE_RATIO_GUIDE = 1e-3 (Karpathy, makemore part 3): far below it a layer
    barely moves, far above it a step rewrites the layer."""
    ratio = records.update_ratio
    if not np.any(np.isfinite(ratio) & (ratio > 0)):
        raise ValueError("plot_update_ratio: these records hold no update:data ratio; record "
                         "with GradientMonitor(model, learning_rate=lr)")
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.subplots()
    colours = _layer_colours(len(records.layer_names))
    for layer, name in enumerate(records.layer_names):
        values = ratio[:, layer]
        ax.plot(records.iterations, np.where(values > 0, values, np.nan), color=colours[layer],
                linewidth=1.5, label=f"layer {layer + 1} ({name})")
    ax.axhline(UPDATE_RATIO_GUIDE, color="black", linestyle="--", linewidth=1.0,
               label=f"guide: {UPDATE_RATIO_GUIDE:g}")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    _integer_iterations(ax)
    ax.set_ylabel(r"$\|lr \cdot dW^{[l]}\|_F \,/\, \|W^{[l]}\|_F$ (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _margins(fig, left=0.9, right=2.0, bottom=0.55, top=0.42)
    ax.set_title(_title(records, f"update:data ratio (lr = {records.learning_rate:g})", title),
                 y=1.0)
    return _save(fig, path)
