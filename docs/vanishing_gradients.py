# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Vanishing gradients, cell by cell
#
# This notebook walks through the lesson that tinygrad_edu is built around: why a deep network
# of sigmoids with small random weights stops learning, and why ReLU with the right
# initialization does not. Run it top to bottom (Shift-Enter); every cell takes a few seconds
# at most.
#
# 1. A tensor, an expression, `backward()`, and the graph that backward walks.
# 2. Your own op, checked against finite differences with `gradcheck`.
# 3. Backpropagation by hand for a 2-layer net, beside autodiff.
# 4. sigmoid5: its graph coloured by gradient, the gradient at every neuron, the speed of
#    learning.
# 5. relu5_he: the same pictures, and the Xavier and He variance arguments checked in numbers.
# 6. Exercises.
#
# Conventions, as in the course: **samples are columns**. A batch `x` is `(features, m)`, a
# layer computes `z = W @ x + b` with `W` of shape `(out, in)`, and `a = g(z)`.
#
# Needs `pip install -e ".[notebook]"` (from the repository root) and the Graphviz `dot`
# program (`apt-get install graphviz`, `brew install graphviz`, ...) for the drawings.

# %%
import sys
import tempfile
from pathlib import Path

import numpy as np
from IPython.display import Image, display

# models/ sits beside the package (it is not installed): make it importable whether the
# notebook runs from the repository root or from docs/.
ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "models").is_dir())
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from tinygrad_edu import Function, Tensor, gradcheck, nn, plots  # noqa: E402
from tinygrad_edu.data import load_cat_dataset, synthetic_cat_dataset  # noqa: E402
from tinygrad_edu.monitor import GradientMonitor  # noqa: E402
from tinygrad_edu.optim import SGD  # noqa: E402
from tinygrad_edu.training import accuracy, fit  # noqa: E402
from tinygrad_edu.viz import draw_graph, gradient_flow  # noqa: E402

FIGURES = Path(tempfile.mkdtemp(prefix="vanishing_gradients_"))  # the plots of this session
np.set_printoptions(precision=4, suppress=False)

# %% [markdown]
# ## 1. A tensor, an expression, its graph
#
# A `Tensor` holds a NumPy array. When an operation runs on a tensor that `requires_grad`, the
# result remembers which operation made it and from which inputs: the expression builds a graph
# as it is computed. `backward()` walks that graph from the end back to the inputs and leaves
# dL/dinput in each input's `.grad`.

# %%
a = Tensor(2.0, requires_grad=True)
b = Tensor(-3.0, requires_grad=True)
c = Tensor(10.0, requires_grad=True)
e = a * b                  # -6
d = e + c                  # 4
L = (d * d).tanh()         # tanh(16): almost 1, and almost flat there
L.backward(retain_graph=True)  # keep the graph so that we can draw it afterwards
print("L =", L.item())
print("dL/da =", a.grad.item(), " dL/db =", b.grad.item(), " dL/dc =", c.grad.item())

# %% [markdown]
# By hand: dL/dd = (1 - tanh²(d²)) · 2d, dL/dc = dL/dd, dL/da = dL/dd · b and dL/db = dL/dd · a.
# tanh is nearly flat at 16, so every gradient is tiny even though nothing else in the
# expression is small. That is the whole lesson in one line; the rest of this notebook is the
# same effect, repeated layer after layer.

# %%
dL_dd = (1 - np.tanh(16.0) ** 2) * 2 * 4.0
print("by hand:", dL_dd * -3.0, dL_dd * 2.0, dL_dd)

# %% [markdown]
# Now the graph itself. Every box is a tensor: the leaves we made (named here) and the result of
# every op, with its value and, after `backward()`, the gradient that reached it. The colour is
# the size of that gradient on a log scale: pale boxes got little, deep ones a lot.

# %%
draw_graph(L, names={"a": a, "b": b, "c": c, "e": e, "d": d, "L": L})

# %% [markdown]
# ## 2. An op of your own, checked with gradcheck
#
# Every op in `tinygrad_edu/ops.py` is a `Function` with a `forward` and, right beside it, a
# `backward` that turns dL/d(output) into dL/d(input) (the vector-Jacobian product). Writing
# one yourself takes a few lines. Here is softplus, f(x) = log(1 + eˣ), a smooth ReLU; its
# derivative is the sigmoid, f'(x) = σ(x).

# %%
class Softplus(Function):
    """out = log(1 + e^x), computed as max(x, 0) + log(1 + e^-|x|) so that e^x never
    overflows.   dL/dx = grad * sigma(x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, grad):
        (x,) = self.saved
        return grad / (1 + np.exp(-x))  # grad * sigma(x)


x = Tensor(np.random.default_rng(0).normal(size=(3, 4)), requires_grad=True)
print("gradcheck:", gradcheck(lambda t: Softplus.apply(t), x))

# %% [markdown]
# `gradcheck` nudges every element by ±ε, measures how the output moves (a central difference)
# and compares that with what `backward` says. A wrong backward does not get through. Here is a
# softplus whose author forgot the chain rule's `grad` factor:

# %%
class BrokenSoftplus(Softplus):
    def backward(self, grad):
        (x,) = self.saved
        return 1 / (1 + np.exp(-x))  # forgot to multiply by grad


try:
    gradcheck(lambda t: BrokenSoftplus.apply(t), x)
except AssertionError as error:
    print("caught:", error)

# %% [markdown]
# ## 3. Backpropagation by hand, beside autodiff
#
# The data: the course's 209 training images of cats and non-cats (64 × 64 × 3 = 12288 values
# each, a column per image) when the files can be found, otherwise a synthetic stand-in of the
# same shapes. The cell says which one you got; numbers on the stand-in say nothing about cats.

# %%
try:
    data = load_cat_dataset()
    source = "the real cat / non-cat images"
except Exception as error:  # no files here: the stand-in keeps every cell running
    data = synthetic_cat_dataset(seed=0)
    source = f"the SYNTHETIC stand-in (real files not found: {type(error).__name__})"
x_train, y_train = Tensor(data.x_train), Tensor(data.y_train)
x_test, y_test = data.x_test, data.y_test
m = x_train.shape[1]
print(f"data: {source}; x_train {x_train.shape}, y_train {y_train.shape}, "
      f"{int(data.y_train.sum())} cats of {m}")

# %% [markdown]
# A 2-layer net: z¹ = W¹x + b¹, a¹ = ReLU(z¹), z² = W²a¹ + b², a² = σ(z²), and the
# cross-entropy loss L = -(1/m) Σ [y log a² + (1 - y) log(1 - a²)]. The course derives its
# gradients by hand, going backwards:
#
# | quantity | formula | shape |
# |---|---|---|
# | da² | (1/m) (a² - y) / (a² (1 - a²)) | (1, m) |
# | dz² | da² · σ'(z²) = (1/m) (a² - y) | (1, m) |
# | dW² | dz² a¹ᵀ | (1, 30) |
# | db² | Σ over the columns of dz² | (1, 1) |
# | da¹ | W²ᵀ dz² | (30, m) |
# | dz¹ | da¹ · ReLU'(z¹) | (30, m) |
# | dW¹ | dz¹ xᵀ | (30, 12288) |
# | db¹ | Σ over the columns of dz¹ | (30, 1) |
#
# We compute them in NumPy and compare with what autodiff gives. To see da¹ as autodiff
# computes it, we cut the graph at a¹: the second layer runs on a copy of a¹ that is a leaf of
# its own, so its `.grad` is da¹; handing that gradient to the first half with
# `a1.backward(da1)` finishes the walk into layer 1. That is the chain rule, done in two steps.

# %%
shallow = models.build("shallow", seed=0)  # 12288-30-1, ReLU, small init
W1, b1 = shallow.fc1.weight, shallow.fc1.bias
W2, b2 = shallow.fc2.weight, shallow.fc2.bias

a1 = shallow.act1(shallow.fc1(x_train))                  # (30, m)
a1_cut = a1.detach().requires_grad_()                   # a leaf: its .grad will be da1
a2 = shallow.fc2(a1_cut).sigmoid()                      # (1, m)
loss = nn.binary_cross_entropy(a2, y_train)
loss.backward()
a1.backward(a1_cut.grad.data)                           # the rest of the walk, into layer 1

# The course's formulas, in NumPy
X, Y = x_train.data, y_train.data
z1 = W1.data @ X + b1.data                              # (30, 12288) @ (12288, m) -> (30, m)
A1 = np.maximum(z1, 0)
A2 = 1 / (1 + np.exp(-(W2.data @ A1 + b2.data)))       # (1, 30) @ (30, m) -> (1, m)
dA2 = (A2 - Y) / (A2 * (1 - A2)) / m
dz2 = dA2 * A2 * (1 - A2)                               # = (A2 - Y) / m
dW2 = dz2 @ A1.T                                        # (1, m) @ (m, 30) -> (1, 30)
db2 = dz2.sum(axis=1, keepdims=True)
dA1 = W2.data.T @ dz2                                   # (30, 1) @ (1, m) -> (30, m)
dz1 = dA1 * (z1 > 0)
dW1 = dz1 @ X.T                                         # (30, m) @ (m, 12288) -> (30, 12288)
db1 = dz1.sum(axis=1, keepdims=True)


def relative_error(by_hand, autodiff):
    return np.linalg.norm(by_hand - autodiff) / max(np.linalg.norm(by_hand), 1e-300)


for name, by_hand, autodiff in [("dW2", dW2, W2.grad), ("db2", db2, b2.grad),
                                ("da1", dA1, a1_cut.grad), ("dW1", dW1, W1.grad),
                                ("db1", db1, b1.grad)]:
    error = relative_error(by_hand, autodiff.data)
    print(f"{name:4s} {str(by_hand.shape):12s} relative difference {error:.1e}")
    assert error < 1e-8, name

# %% [markdown]
# They agree to rounding (around 1e-15). Autodiff never needed the formulas: each op knows its
# own local derivative, and the walk multiplies them in the right order. Notice one more thing:
# in dz¹ = (W²ᵀ dz²) · g'(z¹), every layer we go back multiplies by a weight matrix and by the
# activation's slope. For a sigmoid that slope is at most 1/4. Stack five layers and see.

# %% [markdown]
# ## 4. sigmoid5: watching the gradient vanish
#
# The course's deep sigmoid net, 12288-30-30-30-30-1, with weights drawn from N(0, 1) × 0.01.
# Before any training, one forward pass and the gradient walk: the graph, one box per layer,
# coloured by how much gradient reached each box. (`gradients=True` computes the gradients
# for the picture without touching `.grad`.)

# %%
ITERATIONS = 150  # the course trains for 2000-2200; raise it (section 5 needs ~800 to learn)

sigmoid5 = models.build("sigmoid5", seed=0)
spec5 = models.SPECS["sigmoid5"]
loss = spec5.loss_fn()(sigmoid5, x_train, y_train)
flow = gradient_flow(loss)
for layer in range(1, 6):
    weight = getattr(sigmoid5, f"fc{layer}").weight
    print(f"||dW^[{layer}]|| = {flow.norm(weight):.2e}")
draw_graph(loss, model=sigmoid5, names={"x": x_train, "y": y_train}, gradients=flow,
           title="sigmoid5 at the start: the colour is the size of the gradient")

# %% [markdown]
# The boxes of fc1 are the palest in the picture, fc5's the deepest: fc1's weights get orders of
# magnitude less gradient than fc5's (the printed norms above). Each step back through a layer
# multiplies by W (entries of size 0.01) and by σ'(z) ≤ 1/4. Now train it briefly with the
# `GradientMonitor` watching every iteration.

# %%
monitor = GradientMonitor(sigmoid5, meta={"experiment": "sigmoid5"})
losses = fit(sigmoid5, x_train, y_train, SGD(sigmoid5.parameters(), lr=spec5.learning_rate),
             iterations=ITERATIONS, loss_fn=spec5.loss_fn(), callbacks=[monitor])
records5 = monitor.records()
monitor.close()
print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; train accuracy "
      f"{accuracy(sigmoid5, x_train, y_train):.2%}, test {accuracy(sigmoid5, x_test, y_test):.2%}")
print(f"||dW^[1]|| / ||dW^[4]||: {records5.gradient_ratio(0):.1e} at the start, "
      f"{records5.gradient_ratio(-1):.1e} at the end")
display(Image(str(plots.plot_dw_per_neuron(records5, FIGURES / "dw_sigmoid5.png"))))

# %% [markdown]
# Every line is one neuron: the size of the gradient of the weights coming into it. Layer 1's
# neurons sit orders of magnitude below layer 4's, so a step of gradient descent barely moves
# them. The net learns what the last layers can learn alone, the share of non-cats, and
# predicts "non-cat" for everything.
#
# The speed of learning of a layer (Nielsen's name for ‖db‖) tells the same story per layer:

# %%
display(Image(str(plots.plot_speed_of_learning(records5, FIGURES / "speed_sigmoid5.png"))))

# %% [markdown]
# ## 5. relu5_he: the same net with ReLU and He-style initialization
#
# ReLU's slope is 1 where the unit is active, not ≤ 1/4, and the weights are drawn with a
# variance scaled to the layer's width (the course's He variance, 1/(2 n_in); He et al. give
# 2/n_in, see the README's errata). Same pictures:

# %%
relu5 = models.build("relu5_he", seed=0)
spec_he = models.SPECS["relu5_he"]
loss = spec_he.loss_fn()(relu5, x_train, y_train)  # includes the course's L2 penalty on fc1
draw_graph(loss, model=relu5, names={"x": x_train, "y": y_train}, gradients=True,
           title="relu5_he at the start")

# %%
monitor = GradientMonitor(relu5, meta={"experiment": "relu5_he"})
losses = fit(relu5, x_train, y_train, SGD(relu5.parameters(), lr=spec_he.learning_rate),
             iterations=ITERATIONS, loss_fn=spec_he.loss_fn(), callbacks=[monitor])
records_he = monitor.records()
monitor.close()
print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; train accuracy "
      f"{accuracy(relu5, x_train, y_train):.2%}, test {accuracy(relu5, x_test, y_test):.2%}")
print(f"||dW^[1]|| / ||dW^[4]||: {records_he.gradient_ratio(0):.1f} at the start")
display(Image(str(plots.plot_dw_per_neuron(records_he, FIGURES / "dw_relu5_he.png"))))
display(Image(str(plots.plot_speed_of_learning(records_he, FIGURES / "speed_relu5_he.png"))))

# %% [markdown]
# The gradient picture has changed completely: layer 1 now gets *more* gradient than layer 4
# (it has 12288 weights per neuron against 30, so at equal gradients per weight its norm is
# about 20 times larger). The accuracy has not moved yet in so few iterations: the loss falls
# slowly at first, and on the real images the net needs about 700 iterations to get past
# "non-cat for everything" (the README's full run reaches 100 % train, 76 % test). Set
# ITERATIONS = 1000 above and rerun to watch it happen.
#
# Where does the right variance come from? A unit sums n_in products w·a. With
# independent, zero-mean weights,
#
# var(z) = n_in · var(W) · E[a²].
#
# * **Xavier** (tanh, or anything with slope 1 at 0 and zero-mean outputs): E[a²] ≈ var(z_prev),
#   so var(W) = 1/n_in keeps var(z) the same from layer to layer (Glorot and Bengio average it
#   with 1/n_out for the backward pass: 2/(n_in + n_out)).
# * **He** (ReLU): half of z_prev is zeroed, so E[a²] = var(z_prev)/2, and var(W) = 2/n_in keeps
#   var(z) constant.
#
# For ReLU layers of width 30, the ratio std(z^[l+1]) / std(z^[l]) should be
# √(n_in · var(W) / 2): 1 for He, 1/2 for the course's He variance (a quarter of He's),
# 0.71 for Xavier and 0.04 for the course's `small` init (0.01 · √(30/2)). Let us measure it,
# at the start, on the training images:

# %%
def z_std_per_layer(model, x):
    """std of z^[l] over all units and images, for every layer l, in one forward pass."""
    stds, a = [], x
    for layer in range(1, model.depth + 1):
        z = getattr(model, f"fc{layer}")(a)
        stds.append(float(z.data.std()))
        if layer < model.depth:
            a = getattr(model, f"act{layer}")(z)
    return stds


weight_variance = {"small": 1e-4, "xavier": 2 / 60, "he_course": 1 / 60, "he": 2 / 30}
print("ReLU, 12288-30-30-30-30-1      std of z^[1] ... z^[5]             ratio, layers 2-4  "
      "predicted")
for init, variance in weight_variance.items():
    net = models.CourseNet([models.IMAGE_FEATURES, 30, 30, 30, 30, 1], "relu", init, rng=0)
    stds = z_std_per_layer(net, x_train)
    # z^[2] -> z^[3] -> z^[4]: ReLU inputs of width 30 in and out, where the argument applies
    # (z^[1] sees the raw pixels, z^[5] is a single unit)
    ratios = np.array(stds[2:4]) / np.array(stds[1:3])
    predicted = np.sqrt(30 * variance / 2)
    print(f"  {init:10s} {' '.join(f'{s:8.2e}' for s in stds)}   "
          f"{ratios.mean():6.3f}            {predicted:6.3f}")

print("\nXavier init, the same sizes, two activations:")
for activation in ("tanh", "centered_sigmoid"):
    net = models.CourseNet([models.IMAGE_FEATURES, 30, 30, 30, 30, 1], activation, "xavier",
                           rng=0)
    stds = z_std_per_layer(net, x_train)
    print(f"  {activation:16s} {' '.join(f'{s:8.2e}' for s in stds)}")

# %% [markdown]
# The measured ratios land close to the predicted ones (the argument assumes many independent
# inputs; 30 units and 209 images make the numbers a little noisy). Only He's 2/n_in keeps
# the signal's size from layer to layer. The last two lines show Xavier's own assumption at
# work: tanh has slope 1 at 0 and keeps the signal, while the centred sigmoid σ(z) - 0.5 has
# slope 1/4 and shrinks it about four-fold per layer, so the course's Xavier net learns far more
# slowly than its tanh twin.

# %% [markdown]
# ## 6. Exercises
#
# **Change the depth.** Build sigmoid nets of 2 to 8 layers and print how much smaller layer 1's
# gradient is than the last hidden layer's, before any training. How fast does the ratio fall
# per layer? Try `"tanh"` and `init="xavier"`, or `"relu"` with `init="he"`.

# %%
DEPTHS = range(2, 9)
ACTIVATION, INIT = "sigmoid", "small"   # try ("tanh", "xavier") and ("relu", "he")
for depth in DEPTHS:
    net = models.CourseNet([models.IMAGE_FEATURES] + [30] * (depth - 1) + [1], ACTIVATION,
                           INIT, rng=0)
    flow = gradient_flow(nn.binary_cross_entropy(net(x_train), y_train))
    first, last_hidden = net.fc1.weight, getattr(net, f"fc{max(depth - 1, 1)}").weight
    print(f"{depth} layers: ||dW^[1]|| / ||dW^[{max(depth - 1, 1)}]|| = "
          f"{flow.norm(first) / flow.norm(last_hidden):.1e}")

# %% [markdown]
# **Per element, not per matrix.** fc1's weight matrix has 12288 × 30 entries and fc4's 30 × 30,
# so comparing the norms of whole matrices favours fc1. Redraw the sigmoid5 graph with
# `norm="element"` (the root-mean-square gradient per entry): does fc1 get paler or darker?
#
# **Batch normalization.** Normalizing z in every layer to zero mean and unit variance over the
# batch undoes the shrinking measured in section 5 whatever the initialization. If your version
# of tinygrad_edu has a batch-normalization layer, put one after each Linear of sigmoid5,
# retrain it for 200 iterations and compare its dW plot with the one above. If not, write it:
# a `Module` whose forward is (z - mean) / sqrt(var + eps) · γ + β with Tensor ops, and check its
# gradient with `gradcheck`, as in section 2.

# %%
print("batch normalization layers available:",
      [name for name in dir(nn) if "norm" in name.lower() and "penalty" not in name] or "none yet")
