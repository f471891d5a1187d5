"""NIR export and import: a trained SpikingMLP / SpikingCNN <-> a ``nir.NIRGraph`` (and a ``.nir`` HDF5 file).

Our LIF neuron is discrete-time (``spikevision.neurons.lif``)::

    mem_t = beta * mem_{t-1} + I_t - S_{t-1} * thr,     S_t = H(mem_t - thr)

NIR's LIF is continuous-time: ``tau dv/dt = (v_leak - v) + r I``, a spike when ``v > v_threshold``, then
``v = v_reset``. A simulator runs it with forward-Euler steps of some ``dt``:
``v_t = (1 - dt/tau) v_{t-1} + (r dt / tau) I_t``. So the mapping, exact in float32, is::

    tau = dt / (1 - beta)     r = tau / dt     v_leak = 0     v_threshold = thr     v_reset = 0

NIR stores no ``dt``; every reader picks its own. We write snnTorch's ``dt = 1e-4`` (its importer hard-codes
it) and record it in the graph's metadata. NIR's reset (to ``v_reset`` right after the spike) is our
``reset="zero"``; NIR has no reset by subtraction (our default) and no "none": such models are written with
``v_reset = 0`` plus the node metadata ``spikevision_reset``, which ``from_nir`` honours and other readers
ignore (they reset to zero; docs/INTEROP.md measures what that changes).

Integrate-and-fire layers (``model.neuron = "if"``, beta 1) are NIR ``IF`` nodes with ``r = 1 / dt``;
current-based ones (``"cuba"``) ``CubaLIF`` nodes, as snnTorch writes its ``Synaptic``.

Direct encoding: the graph's input is the image ``[C, H, W]``, fed as the same current at every step.
Batch norm is folded into the convolution before it (running statistics, as at evaluation); dropout is
the identity at inference and is left out. NIR has no max pooling: models with ``MP`` are refused.

Average pooling is written as ``AvgPool2d`` (read by snnTorch and SpikingJelly) or, with ``pool="sum"``, as
``SumPool2d`` with the 1/k^2 folded into the convolution before it (read by Norse): the same network, and
for the power-of-two ``k`` of our presets the same bits, since scaling by 1/4 is exact in floating point.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from pathlib import Path

import nir
import numpy as np
import torch
from torch import nn

from spikevision import __version__, metrics
from spikevision.errors import InvalidType, InvalidValue, NotFound
from spikevision.model import ModelConfig, SpikingCNN, SpikingMLP, build_model
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.alif import ALIF
from spikevision.neurons.cuba import CubaLIF
from spikevision.neurons.lif import LIF, RESETS
from spikevision.neurons.readout import LI
from spikevision.neurons.recurrent import RecurrentLIF
from spikevision.runs.checkpoint import write_atomic
from spikevision.runs.config import RunConfig, TrainConfig

DT = 1e-4  # seconds per step: snnTorch's NIR convention (its importer assumes it)
POOLS = ("avg", "sum")  # how average pooling is written: AvgPool2d, or SumPool2d with 1/k^2 in the conv weights
RESET_KEY = "spikevision_reset"  # LIF node metadata: our reset, where NIR's own (to v_reset) differs
_SYNAPSES = (nir.Affine, nir.Linear, nir.Conv2d)
_POOLS = (nir.AvgPool2d, nir.SumPool2d)


def to_nir(model: nn.Module, config: RunConfig | None = None, *, dt: float = DT, pool: str = "avg") -> nir.NIRGraph:
    """The NIR graph of a trained network: Input -> [Flatten] -> (Affine | Conv2d [pools]) -> LIF ... -> Output.

    Args:
        model: a ``SpikingMLP`` or ``SpikingCNN`` (its weights are read, never changed).
        config: the run's config, to record ``num_steps`` and the encoding in the graph's metadata.
        dt: the step, in seconds, that ``tau`` is expressed against (readers must simulate with it).
        pool: "avg" writes ``AvgPool2d`` nodes; "sum" writes ``SumPool2d`` with 1/k^2 folded into the weights.
    Returns:
        A type-checked ``nir.NIRGraph``; node names follow the model's layers (``fc1``, ``fc1_lif``, ...).
    """
    if not isinstance(model, (SpikingMLP, SpikingCNN)):
        raise InvalidType(f"model must be a SpikingMLP or SpikingCNN, got {type(model).__name__}")
    if config is not None and not isinstance(config, RunConfig):
        raise InvalidType(f"config must be a RunConfig or None, got {type(config).__name__}")
    dt = _checked_dt(dt)
    if pool not in POOLS:
        raise InvalidValue(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(model.config.input_shape))}
    for stage in model.stages:
        if any(isinstance(m, nn.Flatten) for m in stage.before):
            nodes["flatten"] = nir.Flatten(input_type={"input": np.array(stage.in_shape)}, start_dim=0, end_dim=-1)
        weight, bias = _folded_synapse(stage, pool)
        if isinstance(stage.lif, RecurrentLIF):  # the recurrent bias joins the input's (see _recurrent_node)
            bias = bias + stage.lif.recurrent.bias.detach().cpu().numpy()
        if isinstance(stage.synapse, nn.Linear):
            nodes[stage.name] = nir.Affine(weight=weight, bias=bias)
        else:
            nodes[stage.name] = nir.Conv2d(input_shape=tuple(stage.in_shape[1:]), weight=weight, stride=1,
                                           padding=stage.synapse.padding, dilation=1, groups=1, bias=bias)
        for index, layer in enumerate(m for m in stage.after if not isinstance(m, nn.BatchNorm2d)):
            if not isinstance(layer, nn.AvgPool2d):
                raise InvalidValue(f"{stage.name} uses {type(layer).__name__}, which NIR cannot express (it has "
                                   "average and sum pooling only); train with AP<k> instead of MP<k> to export, as the "
                                   "conv-nir preset does")
            k = layer.kernel_size
            nodes[f"{stage.name}_pool{index + 1}"] = (nir.AvgPool2d if pool == "avg" else nir.SumPool2d)(
                kernel_size=np.array([k, k]), stride=np.array([k, k]), padding=np.array([0, 0]))
        nodes[f"{stage.name}_lif"] = _lif_node(stage.lif, stage.out_shape, dt, model.config.neuron)
    nodes["output"] = nir.Output(output_type=np.array([model.config.num_classes]))
    names = list(nodes)
    metadata = {"generator": f"spikevision {__version__}", "dt": dt, "surrogate": model.config.surrogate, "pool": pool,
                "readout": model.config.readout,  # "spikes" (count the output spikes) or "li" (the LI node's membrane)
                "input": "direct: the image [C, H, W] is the input current at every step; else its spikes"}
    if config is not None:
        # How to read the graph: what to feed it, for how many steps, and how the class is read off the output.
        metadata.update(num_steps=config.train.num_steps, encoding=config.train.encoding,
                        prediction=config.train.prediction, dataset=config.train.dataset,
                        input_shape=list(model.config.input_shape),
                        how_to_read=(f"feed {config.train.encoding} input for {config.train.num_steps} steps of "
                                     f"dt {dt:g} s from rest; the class is "
                                     f"{metrics.RULE_TEXT[config.train.prediction]}"))
        if config.train.encoding == "frames":  # events: how a sample becomes the steps' inputs
            metadata.update(_binning(config, list(model.config.input_shape)))
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), metadata=metadata)


def _binning(config: RunConfig, input_shape: list) -> dict:
    """The metadata that says how an event network's samples were cut into its steps' frames."""
    train = config.train
    window = train.encoding_options.get("window_us", 0)
    cut = (f"{train.num_steps} windows of {window} us from its first event (later events left out)" if window
           else f"{train.num_steps} equal time bins (from its first event to its last)")
    return {"binning": "time_window" if window else "n_time_bins", **({"window_us": window} if window else {}),
            "input": f"frames: a sample of {train.dataset} cut into {cut}, the ON and OFF event counts of each bin "
                     f"per pixel {input_shape} (polarity, y, x) the input of one step"}


def from_nir(graph: nir.NIRGraph, *, dt: float | None = None) -> SpikingMLP | SpikingCNN:
    """A spikevision network from a NIR graph: ours, or any feed-forward chain of the node types we run.

    Args:
        graph: a chain Input -> [Flatten] -> (Affine | Linear | Conv2d [AvgPool2d | SumPool2d ...]) -> LIF -> ...
            -> Output
            with the conv layers first and at least one fully connected layer.
        dt: the step ``tau`` is read against; None takes the graph's ``dt`` metadata, else ``DT``.
    Returns:
        A ``SpikingMLP`` or ``SpikingCNN`` in eval mode; its ``config`` describes it (batch norm already
        folded). Non-uniform ``tau`` or threshold become per-layer or per-neuron values
        (``learn_beta`` / ``learn_threshold`` "layer" or "neuron").
    """
    if not isinstance(graph, nir.NIRGraph):
        raise InvalidType(f"graph must be a nir.NIRGraph, got {type(graph).__name__}; read a file with load_nir")
    dt = _checked_dt(float(graph.metadata.get("dt", DT)) if dt is None else dt)
    input_shape, stages = _parse_chain(graph)
    convs = [s for s in stages if isinstance(s["synapse"], nir.Conv2d)]
    fcs = [s for s in stages if not isinstance(s["synapse"], nir.Conv2d)]
    lifs = [_lif_values(s["name"], s["lif"], dt) for s in stages]
    readout = _readout(stages)
    spiking = stages[:-1] if readout == "li" else stages  # the layers with a threshold and a reset
    neuron, alpha = _neuron_kind(spiking, dt) if spiking else ("lif", ModelConfig.alpha)
    thresholds = [thr for _, thr, _ in lifs[: len(spiking)]]
    config = ModelConfig(
        kind="cnn" if convs else "mlp",
        hidden=tuple(int(s["synapse"].weight.shape[0]) for s in fcs[:-1]),
        conv=_conv_spec(convs) if convs else ModelConfig.conv,
        padding=_padding(convs) if convs else "valid",
        input_shape=input_shape,
        num_classes=int(fcs[-1]["synapse"].weight.shape[0]),
        reset=_one_reset(spiking) if spiking else ModelConfig.reset,
        surrogate=_surrogate(graph),
        neuron=neuron,
        alpha=alpha,
        recurrent=_recurrence(stages, fcs),
        readout=readout,
        **_coefficient_config("beta", [beta for beta, _, _ in lifs], ModelConfig.beta),
        **(_coefficient_config("threshold", thresholds, ModelConfig.threshold) if thresholds else {}),
    )
    model = build_model(config)
    with torch.no_grad():
        for stage, parsed, (beta, thr, scale) in zip(model.stages, stages, lifs):
            _load_synapse(stage.synapse, parsed, scale)
            if "recurrent" in parsed:  # the recurrent current enters the same neurons: the same input scale
                _load_synapse(stage.lif.recurrent, {"name": f"{parsed['name']}.w_rec",
                                                    "synapse": parsed["recurrent"]}, scale)
            for name, values in (("beta", beta), ("threshold", thr)):
                param = getattr(stage.lif, name, None)  # a leaky-integrator readout has no threshold
                if isinstance(param, nn.Parameter):
                    param.copy_(torch.from_numpy(values if param.dim() else values.reshape(-1)[:1].reshape(())))
    return model.eval()


def save_nir(graph: nir.NIRGraph, path: Path) -> None:
    """Write ``graph`` to ``path`` as NIR's HDF5 file, atomically (the old file or the whole new one)."""
    buffer = io.BytesIO()
    nir.write(buffer, graph)
    write_atomic(Path(path), buffer.getvalue())


def load_nir(path: Path) -> nir.NIRGraph:
    """Read a ``.nir`` file; anything that is not one is a ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no NIR file at {path}")
    try:
        try:
            graph = nir.read(path)
        except ValueError as exc:
            if "type" not in str(exc).lower():
                raise
            # Other exporters write shapes NIR's own check rejects (Norse 1.1.0: the input as [1, n], its sample's
            # batch included); from_nir checks that the layers' shapes chain, so read the file without it.
            graph = nir.read(path, type_check=False)
    except (OSError, KeyError, ValueError, TypeError, AssertionError) as exc:
        raise InvalidValue(f"{path} is not a readable NIR file ({type(exc).__name__}: {exc})") from None
    return in_edge_order(graph)


def in_edge_order(graph: nir.NIRGraph) -> nir.NIRGraph:
    """``graph`` with its nodes (and its subgraphs' nodes) listed from the input along the edges.

    A file stores them sorted by name; nirtorch 2.6's interpreter (which snnTorch and SpikingJelly import
    through) then fails on a recurrent layer's subgraph whose weight node sorts after its output node
    ("'GraphModule' object has no attribute 'items'"), and runs it in the order it was written.
    """
    following = defaultdict(list)
    for src, dst in graph.edges:
        following[src].append(dst)
    order = [key for key, node in graph.nodes.items() if isinstance(node, nir.Input)]
    for key in order:  # grows as it goes: a breadth-first walk along the edges
        order += [dst for dst in following[key] if dst not in order and dst in graph.nodes]
    order += [key for key in graph.nodes if key not in order]
    nodes = {key: in_edge_order(graph.nodes[key]) if isinstance(graph.nodes[key], nir.NIRGraph) else graph.nodes[key]
             for key in order}
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=graph.metadata, type_check=False)


def export_run(run_dir: Path, path: Path, *, dt: float = DT, pool: str = "avg") -> nir.NIRGraph:
    """Export the trained model of a run directory to the NIR file ``path``; returns the graph."""
    from spikevision.runs.rundir import load_run

    config, model = load_run(run_dir)
    graph = to_nir(model, config, dt=dt, pool=pool)
    save_nir(graph, path)
    return graph


def reading_config(graph: nir.NIRGraph, *, steps: int | None = None, dataset: str | None = None) -> TrainConfig:
    """How to run ``graph`` on a dataset's test set: the steps, input encoding, prediction rule and dataset its
    metadata records (spikevision writes them), ``steps`` and ``dataset`` where given or where a graph (another
    library's) has none (then MNIST). Without a recorded rule the class is read by spike counts, the rule every
    NIR reader can follow."""
    from spikevision.catalog import ENCODINGS
    from spikevision.runs.config import TrainConfig

    recorded = graph.metadata.get("num_steps")
    steps = steps if steps is not None else (int(recorded) if recorded is not None else None)
    if steps is None:
        raise InvalidValue("the graph does not say how many time steps to run it for (no num_steps in its "
                           "metadata); pass --steps")
    encoding = _text(graph.metadata.get("encoding", "direct"))
    rule = _text(graph.metadata.get("prediction", "spikes"))
    dataset = dataset or _text(graph.metadata.get("dataset", "mnist"))
    window = graph.metadata.get("window_us")  # frames by fixed windows (events at their own time resolution)
    options = {"window_us": int(window)} if encoding == "frames" and window is not None else {}
    return TrainConfig(dataset=dataset, encoding=encoding if encoding in ENCODINGS else "direct", num_steps=steps,
                       encoding_options=options, eval_batch_size=500,
                       prediction=rule if rule in metrics.PREDICTION_RULES else "spikes")


# --- export helpers ---------------------------------------------------------------------------------


def _folded_synapse(stage, pool: str = "avg") -> tuple[np.ndarray, np.ndarray]:
    """The stage's weight and bias as float32 arrays, with its batch norms (eval statistics) folded in, and for
    ``pool="sum"`` each average pool's 1/k^2 too.

    Every op after a convolution is a per-channel affine map (BN) or an average pool, which commute, so
    ``BN(pool(conv(x))) == pool(conv'(x))`` with the BN's scale and shift moved into the convolution.
    """
    weight = stage.synapse.weight.detach().double()
    bias = stage.synapse.bias.detach().double()
    for bn in (m for m in stage.after if isinstance(m, nn.BatchNorm2d)):
        scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
        weight = weight * scale[:, None, None, None]
        bias = (bias - bn.running_mean.double()) * scale + bn.bias.detach().double()
    if pool == "sum":
        area = math.prod(m.kernel_size ** 2 for m in stage.after if isinstance(m, nn.AvgPool2d))
        weight, bias = weight / area, bias / area
    dtype = stage.synapse.weight.dtype
    return weight.to(dtype).cpu().numpy(), bias.to(dtype).cpu().numpy()


def _lif_node(lif, shape: tuple[int, ...], dt: float, neuron: str = "lif") -> nir.NIRNode:
    if isinstance(lif, LI):  # a leaky-integrator readout: NIR's LI, the LIF's mapping without a threshold
        beta = _per_neuron(lif.beta, shape, clamp=True)
        with np.errstate(divide="ignore"):
            tau = dt / (1.0 - beta)
        return nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(shape))
    if isinstance(lif, RecurrentLIF):
        return _recurrent_node(lif, shape, dt)
    if isinstance(lif, ALIF):
        raise InvalidValue("NIR has no adaptive-threshold neuron (its nodes are LIF, CubaLIF, IF, LI, ...), so a "
                           "model.neuron=alif network cannot be exported; train with neuron lif or cuba to export")
    if type(lif) is CubaLIF:
        return _cuba_node(lif, shape, dt)
    if type(lif) is not LIF:  # another registered neuron: exporting it as a LIF would change what it computes
        raise InvalidValue(f"NIR has no node for a {type(lif).__name__} neuron (its nodes are LIF, CubaLIF, IF, LI, "
                           f"...), so a model.neuron={neuron} network cannot be exported; train with neuron lif or "
                           "cuba to export")
    if neuron == "if":
        # NIR's IF, dv/dt = r I, in Euler steps of dt: v_t = v_{t-1} + r dt I_t, so r = 1 / dt (no leak).
        return nir.IF(r=np.full(shape, 1.0 / dt), v_threshold=_per_neuron(lif.threshold, shape, clamp=False),
                      v_reset=np.zeros(shape), metadata={RESET_KEY: lif.reset})
    return _leaky_node(lif, shape, dt)


def _leaky_node(lif, shape: tuple[int, ...], dt: float) -> nir.LIF:
    """A LIF layer as NIR's LIF: ``tau = dt / (1 - beta)``, ``r = tau / dt``, ``v_leak = v_reset = 0``."""
    beta = _per_neuron(lif.beta, shape, clamp=True)
    thr = _per_neuron(lif.threshold, shape, clamp=False)
    with np.errstate(divide="ignore"):  # beta = 1 (no leak): tau = r = inf, read back as beta = 1
        tau = dt / (1.0 - beta)
        r = 1.0 / (1.0 - beta)  # = tau / dt
    zeros = np.zeros(shape)
    return nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=thr, v_reset=zeros.copy(),
                   metadata={RESET_KEY: lif.reset})


def _recurrent_node(lif: RecurrentLIF, shape: tuple[int, ...], dt: float) -> nir.NIRGraph:
    """A recurrent layer as the subgraph snnTorch writes for its ``RLeaky`` (and reads back):
    ``input -> lif -> output`` with the cycle ``lif -> w_rec -> lif``; a reader feeds the cycle the spikes of
    the step before. ``w_rec`` is a Linear of the recurrent weight, and the recurrent bias is added to the
    layer's input bias instead (``to_nir``): at the first step nothing has gone round the cycle yet, and the
    readers built on nirtorch (snnTorch's, SpikingJelly's) then leave a bias in the cycle out, where ours adds
    it at every step. Outside the cycle every reader adds it at every step."""
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array(shape)), "lif": _leaky_node(lif, shape, dt),
               "w_rec": nir.Linear(weight=lif.recurrent.weight.detach().cpu().numpy().copy()),
               "output": nir.Output(output_type=np.array(shape))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])


def _cuba_node(lif: CubaLIF, shape: tuple[int, ...], dt: float) -> nir.CubaLIF:
    """A current-based layer as NIR's CubaLIF, as snnTorch exports its Synaptic (and imports it back):
    ``tau_syn = dt / (1 - alpha)``, ``w_in = tau_syn / dt``, ``tau_mem = dt / (1 - beta)``, ``r = tau_mem / dt``."""
    alpha = _per_neuron(lif.alpha, shape, clamp=True)
    beta = _per_neuron(lif.beta, shape, clamp=True)
    with np.errstate(divide="ignore"):  # alpha or beta = 1: an infinite time constant, read back as 1
        tau_syn, tau_mem = dt / (1.0 - alpha), dt / (1.0 - beta)
        w_in, r = 1.0 / (1.0 - alpha), 1.0 / (1.0 - beta)
    zeros = np.zeros(shape)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=zeros, v_threshold=_per_neuron(
        lif.threshold, shape, clamp=False), v_reset=zeros.copy(), w_in=w_in, metadata={RESET_KEY: lif.reset})


def _per_neuron(value, shape: tuple[int, ...], clamp: bool) -> np.ndarray:
    """A LIF coefficient (a number or a tensor) as float64 ``[*shape]``, clamped to [0, 1] as the neuron uses it."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.clamp(0, 1) if clamp else value
        value = value.double().numpy()
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


# --- import helpers ---------------------------------------------------------------------------------


def _parse_chain(graph: nir.NIRGraph) -> tuple[tuple[int, int, int], list[dict]]:
    """The input shape and the stages (synapse, pools, LIF) of a chain graph; a ValueError says what does not fit."""
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise InvalidValue(f"the graph has {len(inputs)} Input and {len(outputs)} Output nodes; spikevision reads "
                           "graphs with one of each")
    successors = defaultdict(list)
    for src, dst in graph.edges:
        successors[src].append(dst)
    order, current = [], inputs[0]
    while current != outputs[0]:
        following = successors[current]
        if len(following) != 1 or following[0] in order:
            raise InvalidValue(f"node {current!r} has {len(following)} successor(s) {following} or closes a loop; "
                               "spikevision reads feed-forward chains only (no branches, no recurrence)")
        current = following[0]
        order.append(current)
    if len(order) + 1 != len(graph.nodes):
        stray = sorted(set(graph.nodes) - set(order) - {inputs[0]})
        raise InvalidValue(f"nodes {stray} are not on the path from input to output; spikevision reads chains only")

    stages: list[dict] = []
    open_stage = None
    for name in order[:-1]:
        node = graph.nodes[name]
        if isinstance(node, nir.Flatten):
            continue  # our fully connected layers flatten their input themselves
        if isinstance(node, _SYNAPSES):
            if open_stage is not None:
                raise InvalidValue(f"{name!r} follows {open_stage['name']!r} with no LIF node between them")
            open_stage = {"name": name, "synapse": node, "pools": []}
        elif isinstance(node, _POOLS) and open_stage and isinstance(open_stage["synapse"], nir.Conv2d):
            open_stage["pools"].append((name, node))
        elif isinstance(node, (nir.LIF, nir.CubaLIF, nir.IF, nir.LI)) and open_stage is not None:
            open_stage["lif"] = node
            stages.append(open_stage)
            open_stage = None
        elif isinstance(node, nir.NIRGraph) and open_stage and not isinstance(open_stage["synapse"], nir.Conv2d):
            open_stage["lif"], open_stage["recurrent"] = _recurrent_parts(name, node)
            stages.append(open_stage)
            open_stage = None
        else:
            raise InvalidValue(f"node {name!r} ({type(node).__name__}) does not fit; spikevision reads chains of "
                               "(Affine | Linear | Conv2d [AvgPool2d | SumPool2d]) -> LIF | CubaLIF | IF, with Flatten "
                               "before the first Affine")
    kinds = [isinstance(s["synapse"], nir.Conv2d) for s in stages]
    if open_stage is not None or not stages or kinds[-1] or kinds != sorted(kinds, reverse=True):
        raise InvalidValue("the graph must be LIF layers behind conv layers first, then fully connected ones, "
                           "ending in a fully connected LIF layer before the output")
    shape = tuple(int(n) for n in np.asarray(graph.nodes[inputs[0]].input_type["input"]).reshape(-1))
    if len(shape) != 3 and not any(kinds):
        # A fully connected network flattens its input: read any shape (Norse writes [1, n], its sample's batch
        # dimension included) as one row of pixels.
        shape = (1, 1, math.prod(shape))
    if len(shape) != 3:
        raise InvalidValue(f"the graph's input has shape {list(shape)}; spikevision reads [C, H, W] images "
                           "(or flat vectors for fully connected networks)")
    return shape, stages


def _recurrent_parts(name: str, graph: nir.NIRGraph) -> tuple[nir.LIF, nir.Affine | nir.Linear]:
    """The LIF node and recurrent weight of a recurrent layer's subgraph, as snnTorch writes its ``RLeaky``:
    ``input -> lif -> output`` and ``lif -> w_rec -> lif``."""
    kinds = {key: type(node) for key, node in graph.nodes.items()}
    by_kind = {kind: [key for key, k in kinds.items() if issubclass(k, kind)]
               for kind in (nir.Input, nir.Output, nir.LIF, (nir.Affine, nir.Linear))}
    if len(graph.nodes) != 4 or any(len(keys) != 1 for keys in by_kind.values()):
        raise InvalidValue(f"subgraph {name!r} is not a recurrent LIF layer (Input, LIF, Affine or Linear, Output: "
                           f"has {sorted(k.__name__ for k in kinds.values())}); spikevision reads those only")
    (inp,), (out,), (lif,), (rec,) = by_kind.values()
    if {tuple(edge) for edge in graph.edges} != {(inp, lif), (lif, rec), (rec, lif), (lif, out)}:
        raise InvalidValue(f"subgraph {name!r} is not wired as a recurrent layer (input -> LIF -> output and "
                           "LIF -> weight -> LIF)")
    return graph.nodes[lif], graph.nodes[rec]


def _readout(stages: list[dict]) -> str:
    """"li" when the output layer is NIR's LI (a leaky-integrator readout), else "spikes"; LI elsewhere is refused."""
    kinds = [isinstance(s["lif"], nir.LI) for s in stages]
    if any(kinds[:-1]):
        raise InvalidValue("an LI node (a leaky integrator, without spikes) stands before the output layer; "
                           "spikevision reads LI as the readout, the last layer, only")
    return "li" if kinds[-1] else "spikes"


def _recurrence(stages: list[dict], fcs: list[dict]) -> bool:
    """Whether the graph's hidden fully connected layers are recurrent: all of them, and the output not."""
    recurrent = ["recurrent" in s for s in stages]
    if not any(recurrent):
        return False
    if recurrent != [any(s is fc for fc in fcs[:-1]) for s in stages]:
        raise InvalidValue("spikevision's recurrent networks (model.recurrent) make every fully connected hidden "
                           "layer recurrent and no other: this graph's recurrent layers are not those")
    return True


def _neuron_kind(stages: list[dict], dt: float) -> tuple[str, float]:
    """``("lif", default alpha)`` for LIF nodes (IF ones among them: beta 1), ``("if", ...)`` for IF nodes only,
    ``("cuba", alpha)`` for CubaLIF ones with one alpha for all."""
    cuba = [isinstance(s["lif"], nir.CubaLIF) for s in stages]
    if not any(cuba):
        only_if = all(isinstance(s["lif"], nir.IF) for s in stages)
        return "if" if only_if else "lif", ModelConfig.alpha
    if not all(cuba):
        raise InvalidValue("the graph mixes LIF and CubaLIF nodes; spikevision runs one neuron model per network")
    alphas = set()
    for stage in stages:
        tau_syn = np.asarray(stage["lif"].tau_syn, dtype=np.float64)
        with np.errstate(divide="ignore"):
            alphas |= {float(f"{a:.12g}") for a in np.unique(1.0 - dt / tau_syn)}
    if len(alphas) != 1 or not 0 <= next(iter(alphas)) <= 1:
        raise InvalidValue(f"the CubaLIF nodes' tau_syn give alpha {sorted(alphas)[:4]} (dt {dt:g} s); spikevision "
                           "runs one synaptic decay in [0, 1] for the whole network")
    return "cuba", alphas.pop()


def _lif_values(name: str, node: nir.NIRNode, dt: float) -> tuple[np.ndarray, np.ndarray | None, float]:
    """``(beta, threshold, input scale)`` of a LIF (or CubaLIF, IF, LI: no threshold) node under forward Euler
    with step ``dt``."""
    if isinstance(node, nir.IF):
        return _if_values(name, node, dt)
    if isinstance(node, nir.LI):
        as_lif = nir.LIF(tau=node.tau, r=node.r, v_leak=node.v_leak, v_threshold=np.ones_like(node.tau),
                         v_reset=np.zeros_like(node.tau))
        beta, _, scale = _lif_values(name, as_lif, dt)
        return beta, None, scale
    for field in ("v_leak", "v_reset"):
        if not np.all(np.asarray(getattr(node, field)) == 0):
            raise InvalidValue(f"LIF node {name!r} has a non-zero {field}; spikevision's LIF rests and resets at 0")
    tau = np.asarray(node.tau_mem if isinstance(node, nir.CubaLIF) else node.tau, dtype=np.float64)
    r = np.asarray(node.r, dtype=np.float64)
    if isinstance(node, nir.CubaLIF):  # the synaptic input scale w_in dt / tau_syn folds into r like r dt / tau
        tau_syn, w_in = np.asarray(node.tau_syn, dtype=np.float64), np.asarray(node.w_in, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = r * np.where(np.isinf(tau_syn) & np.isinf(w_in), 1.0, w_in * dt / tau_syn)
    if np.any(tau < dt):
        raise InvalidValue(f"LIF node {name!r} has tau {tau.min():g} s shorter than the step dt = {dt:g} s; "
                           "pass the dt the graph was made for (from_nir(graph, dt=...), or --dt)")
    with np.errstate(invalid="ignore"):
        beta = 1.0 - dt / tau
        scale = np.where(np.isinf(tau) & np.isinf(r), 1.0, r * dt / tau)  # no leak: r = tau = inf
    return beta, np.asarray(node.v_threshold, dtype=np.float64), _one_scale(f"LIF node {name!r}", "r*dt/tau", scale)


def _if_values(name: str, node: nir.IF, dt: float) -> tuple[np.ndarray, np.ndarray, float]:
    """An IF node: no leak (beta 1) and an input scale ``r dt``, one value per layer."""
    thr = np.asarray(node.v_threshold, dtype=np.float64)
    if node.v_reset is not None and not np.all(np.asarray(node.v_reset) == 0):
        raise InvalidValue(f"IF node {name!r} has a non-zero v_reset; spikevision's neurons reset to 0")
    return np.ones_like(thr), thr, _one_scale(f"IF node {name!r}", "r*dt", np.asarray(node.r, dtype=np.float64) * dt)


def _one_scale(node: str, formula: str, scale: np.ndarray) -> float:
    """A layer's input scale: one positive value, to fold into its weights; 1 up to an ulp reads as exactly 1
    (our own export's tau and r give r dt / tau = 1 within rounding: nothing to fold)."""
    first = scale.reshape(-1)[0]
    if not (np.isfinite(first) and first > 0 and np.allclose(scale, first, rtol=1e-9, atol=0)):
        raise InvalidValue(f"{node} scales its input by {formula} = {np.unique(scale)[:4]} (not one positive value "
                           "per layer), which spikevision cannot fold into the weights")
    return 1.0 if math.isclose(first, 1, rel_tol=1e-9) else float(first)


def _coefficient_config(name: str, layers: list[np.ndarray], default: float) -> dict:
    """``{name: value, learn_<name>: mode}``: one number for all layers, else one per layer or per neuron."""
    uniform = [np.unique(values) for values in layers]
    if all(u.size == 1 for u in uniform):
        values = [float(f"{u[0]:.12g}") for u in uniform]  # 12 digits: undo the 1e-16 of tau's round trip
        if len(set(values)) == 1 and (name != "threshold" or values[0] > 0):
            return {name: values[0], f"learn_{name}": "none"}
        return {name: default, f"learn_{name}": "layer"}
    return {name: default, f"learn_{name}": "neuron"}


def _conv_spec(convs: list[dict]) -> str:
    tokens = []
    for stage in convs:
        conv = stage["synapse"]
        weight = np.asarray(conv.weight)
        if weight.shape[2] != weight.shape[3]:
            raise InvalidValue(f"conv node {stage['name']!r} has a {weight.shape[2]}x{weight.shape[3]} kernel; "
                               "spikevision's convolutions are square")
        if tuple(np.ravel(conv.stride)) != (1, 1) or tuple(np.ravel(conv.dilation)) != (1, 1) or conv.groups != 1:
            raise InvalidValue(f"conv node {stage['name']!r} has stride {conv.stride}, dilation {conv.dilation}, "
                               f"groups {conv.groups}; spikevision's convolutions have 1, 1, 1")
        tokens.append(f"{weight.shape[0]}C{weight.shape[2]}")
        for name, pool in stage["pools"]:
            k = np.ravel(pool.kernel_size)
            if len(set(k)) != 1 or tuple(np.ravel(pool.stride)) != (k[0], k[0]) or np.any(np.ravel(pool.padding)):
                raise InvalidValue(f"pool node {name!r} is not a square k x k pool with stride k and no padding")
            tokens.append(f"AP{int(k[0])}")
    return "-".join(tokens)


def _padding(convs: list[dict]) -> str:
    """"valid" or "same", the one padding every convolution of the graph uses."""
    kinds = set()
    for stage in convs:
        conv, kernel = stage["synapse"], np.asarray(stage["synapse"].weight).shape[2]
        pad = conv.padding if isinstance(conv.padding, str) else tuple(int(p) for p in np.ravel(conv.padding))
        if pad in ("valid", (0, 0)):
            kinds.add("valid")
        elif pad == "same" or (kernel % 2 == 1 and pad == (kernel // 2, kernel // 2)):
            kinds.add("same")
        else:
            raise InvalidValue(f"conv node {stage['name']!r} has padding {pad}; spikevision pads 0 or kernel // 2")
    if len(kinds) != 1:
        raise InvalidValue("the graph mixes 'valid' and 'same' padding; spikevision uses one for all convolutions")
    return kinds.pop()


def _one_reset(stages: list[dict]) -> str:
    """Our reset from the LIF nodes' metadata; NIR's own reset (to zero, right after the spike) otherwise."""
    resets = {_text(s["lif"].metadata.get(RESET_KEY, "zero")) for s in stages}
    if len(resets) != 1 or not resets <= set(RESETS):
        raise InvalidValue(f"the LIF nodes' {RESET_KEY} metadata is {sorted(resets)}; "
                           f"expected one of {', '.join(RESETS)}")
    return resets.pop()


def _surrogate(graph: nir.NIRGraph) -> str:
    name = _text(graph.metadata.get("surrogate", surrogates.DEFAULT))
    return name if name in surrogates.NAMES else surrogates.DEFAULT  # training only: any is fine to run


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _load_synapse(layer: nn.Module, parsed: dict, scale: float) -> None:
    """Copy a synapse node's weight and bias into ``layer``, times the LIF node's input scale."""
    node = parsed["synapse"]
    weight = np.asarray(node.weight)
    bias = np.asarray(node.bias) if hasattr(node, "bias") else np.zeros(weight.shape[0])
    if tuple(weight.shape) != tuple(layer.weight.shape) or tuple(bias.shape) != tuple(layer.bias.shape):
        raise InvalidValue(f"node {parsed['name']!r} has weight {list(weight.shape)} and bias {list(bias.shape)}, but "
                           f"its input needs weight {list(layer.weight.shape)}; the graph's shapes do not chain")
    # A sum pool is our average pool times k^2: carry that into the weights (exact for power-of-two k).
    scale *= math.prod(int(np.ravel(pool.kernel_size)[0]) ** 2 for _, pool in parsed.get("pools", ())
                       if isinstance(pool, nir.SumPool2d))
    if scale != 1.0:
        weight, bias = weight * scale, bias * scale
    layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
    layer.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))


def _checked_dt(dt) -> float:
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt <= 0:
        raise InvalidValue(f"dt must be a positive number of seconds, got {dt!r}")
    return float(dt)
