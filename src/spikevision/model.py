"""Spiking networks: a plain-data ModelConfig, SpikingMLP, SpikingCNN and build_model.

A network is a chain of stages. Each stage turns its input (the image, or the previous stage's spikes)
into a current with stateless layers (Dropout, Linear or Conv2d, then BatchNorm / pooling) and feeds it
to a layer of spiking neurons (LIF, IF, CUBA, ALIF, RF or any registered neuron: ``ModelConfig.neuron``).
Stateless layers run over all ``T*B`` samples at once; each neuron layer runs its model's time loop
(``lif.lif_sequence`` and its kin, one skeleton: ``neurons.base.sequence``). With a static image (direct
encoding) the first stage's current is computed once and expanded over time, not recomputed T times; where the
next stage is a Linear, that first layer (LIF, IF, PLIF, CUBA or ALIF) and the Linear run as one kernel
(``kernels.neuron_linear``).

Example::

    >>> model = build_model(ModelConfig(kind="mlp", hidden=(512,), beta=0.95), seed=0)
    >>> out = model(images, num_steps=200)           # images [B, 1, 28, 28]: direct encoding
    >>> out.spk.shape, out.mem.shape                  # [200, B, 10] each
    >>> out = model(spike_seq, record=True)           # spike_seq [T, B, 1, 28, 28]: rate / latency
    >>> [h.shape for h in out.hidden]                 # [[T, B, 512]]
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from spikevision import kernels, neurons
from spikevision.errors import InvalidType, InvalidValue
from spikevision.neurons import surrogate as surrogates
from spikevision.neurons.lif import LEARN_MODES, LIF, RESETS
from spikevision.neurons.readout import LI
from spikevision.neurons.recurrent import RecurrentALIF, RecurrentLIF
from spikevision.validators import check_choice, check_whole_number, is_whole_number

Tensor = torch.Tensor

KINDS = ("mlp", "cnn")
PADDINGS = ("valid", "same")
# The neuron of every layer, by the registry's name (spikevision.neurons.REGISTRY): "lif" (leaky: decays by beta
# each step), "if" (integrate-and-fire: no leak, beta = 1 whatever model.beta says; the same kernels run it
# exactly), "cuba" (current-based LIF: a synaptic current decaying by alpha feeds the leaky membrane), "alif"
# (adaptive threshold: each spike raises it by adapt_step, it decays back by adapt_decay), "rf"
# (resonate-and-fire: a damped oscillation), and whatever is registered there next.
NEURONS = tuple(neurons.REGISTRY)
# The neuron options spelled as fields of their own (the older neurons'); every other neuron option is set in
# neuron_options (model.neuron_options = {omega = 0.3}).
OPTION_FIELDS = ("alpha", "adapt_decay", "adapt_step")
RECURRENT_NEURONS = ("lif", "alif")  # model.recurrent: recurrent.RecurrentLIF, RecurrentALIF
READOUTS = ("spikes", "li")  # the output layer: the network's spiking neurons, or a leaky integrator (readout.LI)
CONV_SPEC_HELP = (
    "a conv spec is tokens joined by '-': <channels>C<kernel> (convolution, stride 1), BN (batch norm), "
    "MP<k> (max-pool k x k), AP<k> (average-pool k x k); it starts with a convolution, "
    "e.g. '12C5-MP2-64C5-MP2'"
)


@dataclass(frozen=True)
class ModelConfig:
    """What network to build; plain data, saved beside every checkpoint.

    Fields:
        kind: "mlp" (fully connected) or "cnn" (a conv stack, then fully connected layers).
        hidden: widths of the fully-connected hidden layers (after the conv stack for "cnn");
            (512,) with the default input is the handout's 784-512-10; () connects straight to the output.
        conv: for "cnn", the conv stack (see ``CONV_SPEC_HELP``). Each convolution starts a block that
            ends in a LIF layer: "12C5-MP2-64C5-MP2" is conv-pool-LIF, conv-pool-LIF.
        padding: "valid" (none) or "same" (k // 2, odd kernels) for every convolution.
        input_shape: one sample's shape (channels, height, width).
        num_classes: output neurons.
        neuron: a registered neuron (``NEURONS``): "lif", "if" (no leak: beta is 1), "cuba" (current-based),
            "alif" (adaptive threshold) or "rf" (resonate-and-fire).
        beta, threshold, reset, surrogate: the LIF neurons of every layer (see ``lif.LIFParams``).
        alpha: the synaptic current's decay per step, in [0, 1], for neuron "cuba" (``cuba.CubaParams``).
        adapt_decay, adapt_step: for neuron "alif", the threshold's decay back per step, in [0, 1], and its
            rise per spike, >= 0 (``alif.ALIFParams``).
        neuron_options: the chosen neuron's other options by name (``NeuronKind.options``; its defaults for
            those left out), e.g. ``{"omega": 0.3}`` for neuron "rf".
        readout: "spikes" (the output layer is of the network's neurons; the class is read from its spikes) or
            "li" (a leaky integrator without spikes, ``readout.LI``; the class is the highest mean membrane).
        recurrent: make the fully-connected hidden layers recurrent (``recurrent.RecurrentLIF``: their own
            spikes of the step before fed back through a learned weight, snnTorch's RLeaky; with neuron "alif",
            ``recurrent.RecurrentALIF``, LSNN's recurrent adaptive network).
        learn_beta, learn_threshold: "none", "layer" (one learnable value per layer) or "neuron".
        learn_tau: the same choices for a learnable time constant kept in range by construction (PLIF:
            ``beta = sigmoid(w)``, ``w`` learned; ``lif.LIF``); instead of learn_beta.
        dropout: probability of dropping a spike entering each fully-connected layer after the first.
    """

    kind: str = "mlp"
    hidden: tuple[int, ...] = (512,)
    conv: str = "12C5-MP2-64C5-MP2"
    padding: str = "valid"
    input_shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10
    beta: float = 0.95
    threshold: float = 1.0
    reset: str = "subtract"
    surrogate: str = surrogates.DEFAULT
    learn_beta: str = "none"
    learn_threshold: str = "none"
    dropout: float = 0.0
    neuron: str = "lif"
    alpha: float = 0.9
    learn_tau: str = "none"
    adapt_decay: float = 0.95
    adapt_step: float = 0.2
    recurrent: bool = False
    readout: str = "spikes"
    neuron_options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_choice("padding", self.padding, PADDINGS)
        check_choice("reset", self.reset, RESETS)
        check_choice("surrogate", self.surrogate, surrogates.NAMES)
        check_choice("learn_beta", self.learn_beta, LEARN_MODES)
        check_choice("learn_threshold", self.learn_threshold, LEARN_MODES)
        check_choice("neuron", self.neuron, NEURONS)
        check_choice("learn_tau", self.learn_tau, LEARN_MODES)
        check_choice("readout", self.readout, READOUTS)
        for key in ("learn_beta", "learn_tau"):
            if neurons.kind(self.neuron).fixed_beta is not None and getattr(self, key) != "none":
                raise InvalidValue(f"neuron {self.neuron!r} has no leak (beta = 1), so {key} must be none; "
                                   "use neuron = lif to learn the decay")
        self.neuron_settings()  # checks neuron_options against the neuron's own
        if not isinstance(self.recurrent, bool):
            raise InvalidValue(f"recurrent must be true or false, got {self.recurrent!r}")
        if self.recurrent and (self.neuron not in RECURRENT_NEURONS or not self.hidden):
            raise InvalidValue("recurrent = true makes the fully-connected hidden layers recurrent: it needs neuron "
                               f"= {' or '.join(RECURRENT_NEURONS)} (got {self.neuron!r}) and at least one hidden "
                               f"width (got {list(self.hidden)})")
        if self.learn_tau != "none" and self.learn_beta != "none":
            raise InvalidValue("learn_tau and learn_beta both learn the decay; choose one (learn_tau keeps it in "
                               "range by construction)")
        object.__setattr__(self, "hidden", _positive_ints("hidden", self.hidden))
        object.__setattr__(self, "input_shape", _positive_ints("input_shape", self.input_shape))
        if len(self.input_shape) != 3:
            raise InvalidValue(f"input_shape must be (channels, height, width), got {list(self.input_shape)}")
        check_whole_number("num_classes", self.num_classes, 1)
        for name, ok, rule in (
            ("beta", lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("alpha", lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("adapt_decay", lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("adapt_step", lambda v: 0 <= v < math.inf, ">= 0"),
            ("threshold", lambda v: 0 < v < math.inf, "> 0"),
            ("dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
                raise InvalidValue(f"{name} must be a number {rule}, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not isinstance(self.conv, str):
            raise InvalidValue(f"conv must be a string; {CONV_SPEC_HELP}")
        if self.kind == "cnn":
            conv_plan(self)  # raises on a bad spec or one that shrinks the image to nothing

    def neuron_settings(self) -> dict[str, float]:
        """The chosen neuron's options, checked: its option fields and ``neuron_options``, defaults filled in."""
        if not isinstance(self.neuron_options, dict):
            raise InvalidValue(f"neuron_options must be a table of the neuron's options, got {self.neuron_options!r}")
        spelled = sorted(set(self.neuron_options) & set(OPTION_FIELDS))
        if spelled:
            raise InvalidValue(f"{spelled[0]} is a field of its own: set model.{spelled[0]}, not in neuron_options")
        kind = neurons.kind(self.neuron)
        fields = {name: getattr(self, name) for name in kind.options if name in OPTION_FIELDS}
        return kind.checked_options({**fields, **self.neuron_options})

    def to_dict(self) -> dict:
        """A JSON/TOML-ready dict (tuples as lists)."""
        return {f.name: list(v) if isinstance(v, tuple) else v for f, v in
                ((f, getattr(self, f.name)) for f in dataclasses.fields(self))}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """The config from a dict such as ``to_dict`` writes; unknown keys are a ValueError listing the valid ones."""
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise InvalidValue(f"unknown model key(s) {unknown}; valid: {', '.join(valid)}")
        return cls(**data)


class ModelOutput(NamedTuple):
    """What a spiking network returns.

    Fields:
        spk: output spikes ``[T, B, num_classes]``.
        mem: output membranes ``[T, B, num_classes]``.
        hidden: each hidden LIF layer's spikes ``[T, B, ...]`` when ``record=True``, else ``()``.
    """

    spk: Tensor
    mem: Tensor
    hidden: tuple[Tensor, ...]


@dataclass(frozen=True, eq=False)
class SynapticLayer:
    """One layer of synapses (a Linear or Conv2d), as the operation counts need it.

    Fields:
        name: "conv1", "fc1", ...
        in_shape: one sample's input to the layer: the image, or the previous LIF layer's spikes.
        out_shape: one sample's LIF neurons fed by the layer.
        fan_out: int64 ``[*in_shape]``: how many synapses each input element drives (at image borders a
            convolution's input drives fewer, and zero padding drives none).
        macs: multiply-accumulates of the equal ANN layer per sample (= total synapses = fan_out.sum()).
    """

    name: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    fan_out: Tensor
    macs: int

    def synops(self, spikes: Tensor) -> Tensor:
        """Synaptic operations per sample: input spikes times their fan-out, summed over time.

        Args:
            spikes: the layer's input spikes ``[T, B, *in_shape]``.
        Returns:
            float64 ``[B]``.
        """
        if tuple(spikes.shape[2:]) != self.in_shape:
            raise InvalidValue(f"{self.name} takes spikes [T, B, {', '.join(map(str, self.in_shape))}], "
                               f"got shape {tuple(spikes.shape)}")
        return self.synops_of_counts(spikes.sum(0, dtype=torch.float64))

    def synops_of_counts(self, counts: Tensor) -> Tensor:
        """``synops`` from each input's spike count over time, ``counts [B, *in_shape]``; float64 ``[B]``."""
        if tuple(counts.shape[1:]) != self.in_shape:
            raise InvalidValue(f"{self.name} takes spike counts [B, {', '.join(map(str, self.in_shape))}], "
                               f"got shape {tuple(counts.shape)}")
        fan_out = self.fan_out.to(device=counts.device, dtype=torch.float64).flatten()
        return counts.flatten(1).to(torch.float64) @ fan_out


class _Stage(nn.Module):
    """before (on the input: Flatten, Dropout) -> synapse (Linear/Conv2d) -> after (BN, pooling) -> LIF."""

    def __init__(self, name: str, before: list, synapse: nn.Module, after: list, lif: LIF,
                 in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.name = name
        self.before = nn.Sequential(*before)
        self.synapse = synapse
        self.after = nn.Sequential(*after)
        self.lif = lif
        self.in_shape = in_shape
        self.out_shape = out_shape

    def current(self, x: Tensor) -> Tensor:
        """Input current ``[N, *out_shape]`` from input ``[N, *in_shape]`` (N = B, or T*B flattened). A
        convolution reads its input in channels-last memory format, as its weight is kept (``SpikingCNN``)."""
        if isinstance(self.synapse, nn.Conv2d):
            x = x.contiguous(memory_format=torch.channels_last)
        return self.after(self.synapse(self.before(x)))

    def describe(self) -> SynapticLayer:
        if isinstance(self.synapse, nn.Linear):
            fan_out = torch.full(self.in_shape, self.synapse.out_features, dtype=torch.int64)
        else:
            # How many outputs each input pixel reaches: the transposed convolution of all-ones. It
            # leaves out the zero padding and counts the fewer connections of border pixels.
            conv = self.synapse
            weight = torch.ones_like(conv.weight, device="cpu", dtype=torch.float64)
            out = F.conv2d(torch.ones((1, *self.in_shape), dtype=torch.float64), weight, padding=conv.padding)
            fan_out = F.conv_transpose2d(torch.ones_like(out), weight, padding=conv.padding)[0]
            fan_out = fan_out.round().to(torch.int64)
        return SynapticLayer(self.name, self.in_shape, self.out_shape, fan_out, int(fan_out.sum()))


class _SpikingNet(nn.Module):
    """A chain of stages; the forward pass shared by SpikingMLP and SpikingCNN."""

    def __init__(self, config: ModelConfig, stages: list[_Stage]) -> None:
        super().__init__()
        self.config = config
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor, num_steps: int | None = None, record: bool = False) -> ModelOutput:
        """Run the network over time.

        Args:
            x: a static image batch ``[B, C, H, W]`` (direct encoding: the same input current at every
                step; needs ``num_steps``) or an encoded sequence ``[T, B, C, H, W]``.
            num_steps: T for a static batch; for a sequence, None or its length.
            record: also return each hidden LIF layer's spikes.
        Returns:
            ``ModelOutput(spk [T, B, num_classes], mem [T, B, num_classes], hidden)``.
        """
        current = self._first_current(x, num_steps)  # (T, B, *out_shape of stage 0)
        hidden, start = [], 0
        pair = self._fused_pair(current, record)
        if pair is not None:  # stage 0's LIF and stage 1's Linear ran as one kernel: go on from stage 1's LIF
            current, spk = pair
            hidden += [spk] if record else []
            start = 1
        for index in range(start, len(self.stages)):
            stage = self.stages[index]
            if index > start:
                current = _over_time(stage.current, spk)
            # Only the output layer's membranes are read (by the loss); hidden ones are never written.
            spk, mem, _ = stage.lif(current, need_mem=index == len(self.stages) - 1)
            if record and index < len(self.stages) - 1:
                hidden.append(spk)
        return ModelOutput(spk, mem, tuple(hidden))

    def _fused_pair(self, current: Tensor, record: bool) -> tuple[Tensor, Tensor | None] | None:
        """Stage 0's neurons and stage 1's Linear as one kernel (``kernels.lif_linear``) where it applies, else None.

        It applies to a constant current (direct encoding) into flat LIF, CUBA or ALIF neurons (their coefficients
        fixed or learnable; on a GPU, LIF with fixed ones, float32, up to 64 outputs) followed by a Linear with no
        dropout in training: the hidden spikes ``[T, B, N]`` are then never written, the largest cost of the
        handout's step. Same spikes as the unfused path; the output currents and gradients equal within float
        rounding (tests/test_model.py).
        """
        base = kernels.constant_source(current)
        if base is None or not self._pair_fits() or (record and torch.is_grad_enabled()):
            return None  # recorded spikes of the fused pair carry no gradient
        first, second = self.stages[0], self.stages[1]
        if self.training and any(isinstance(m, nn.Dropout) and m.p > 0 for m in second.before):
            return None
        neurons, weight = first.lif, second.synapse.weight
        params, family = neurons.params, neurons.kernel_family
        coefficients, fixed = neurons.dynamics.kernel_arguments(neurons.dynamics.coefficients(params, base), params)
        # Through kernels.select, so that whatever forces the reference loop (a benchmark, a test) forces it here.
        engine = kernels.select(family, current, (), coefficients, fixed, params.reset, params.surrogate)
        if engine not in ("numba", "triton") or not kernels.pair_supported(
                family, base, coefficients, params.reset, params.surrogate, weight, engine, fixed):
            return None
        return kernels.neuron_linear(family, base, current.shape[0], coefficients, params.reset, params.surrogate,
                                     weight, second.synapse.bias, fixed=fixed, record=record, engine=engine)

    def _pair_fits(self) -> bool:
        """Whether the layers allow ``_fused_pair``: flat neurons of a family the pair runs (LIF, IF, PLIF, CUBA,
        ALIF; recurrent layers run unfused) followed by a Linear with nothing after it."""
        if len(self.stages) < 2:
            return False
        first, second = self.stages[0], self.stages[1]
        return (len(first.out_shape) == 1 and first.lif.kernel_family in kernels.PAIR_FAMILIES
                and isinstance(second.synapse, nn.Linear) and not len(second.after))

    def kernel_families(self, encoding: str) -> tuple[str, ...]:
        """The fused kernel families this network runs when fed with ``encoding``, where the kernels apply
        (``kernels.numba.warm`` compiles them ahead): the one statement of it, from the rule the forward pass keeps.

        Direct encoding gives the first stage a constant current, so a fitting pair runs as ``lif_linear`` and
        its first LIF layer as no kernel of its own; every other layer runs its neuron's ``kernel_family``.
        """
        fused = encoding == "direct" and self._pair_fits()
        used = {"lif_linear"} if fused else set()
        used |= {stage.lif.kernel_family for stage in self.stages[1 if fused else 0:]} - {None}
        return tuple(sorted(used))

    def _first_current(self, x: Tensor, num_steps: int | None) -> Tensor:
        shape = tuple(self.config.input_shape)
        if not isinstance(x, Tensor):
            raise InvalidType(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise InvalidType(f"x must be floating point (pixels in [0, 1]), got dtype {x.dtype}; "
                              "convert it with x.float() / 255")
        first = self.stages[0]
        if x.dim() == len(shape) + 1 and tuple(x.shape[1:]) == shape:
            if not is_whole_number(num_steps) or num_steps < 1:
                raise InvalidValue(f"a static input [B, {', '.join(map(str, shape))}] needs num_steps >= 1, "
                                   f"got {num_steps!r}")
            current = first.current(x)  # once, not once per step
            return current.unsqueeze(0).expand(num_steps, *current.shape)
        if x.dim() == len(shape) + 2 and tuple(x.shape[2:]) == shape:
            if num_steps is not None and num_steps != x.shape[0]:
                raise InvalidValue(f"num_steps={num_steps} but the input sequence has {x.shape[0]} steps; "
                                   "pass num_steps=None for a sequence")
            return _over_time(first.current, x)
        raise InvalidValue(f"x must be [B, {', '.join(map(str, shape))}] (static) or "
                           f"[T, B, {', '.join(map(str, shape))}] (a spike sequence), got shape {tuple(x.shape)}")

    def synaptic_layers(self) -> tuple[SynapticLayer, ...]:
        """Each synaptic layer's fan-out and MACs, in order; layer i's input is the image or ``hidden[i-1]``."""
        return tuple(stage.describe() for stage in self.stages)

    def layer_macs(self) -> tuple[int, ...]:
        """Each synaptic layer's multiply-accumulates per sample in the equal ANN."""
        return tuple(layer.macs for layer in self.synaptic_layers())

    def ann_macs(self) -> int:
        """Multiply-accumulates per sample of the equal ANN (all synaptic layers)."""
        return sum(self.layer_macs())

    def fanouts(self) -> tuple[float, ...]:
        """Each synaptic layer's mean fan-out (synapses per input element).

        Exact for fully-connected layers; for a convolution, border pixels drive fewer synapses than the
        mean, so ``spikes x mean fan-out`` is an estimate there: ``SynapticLayer.synops`` counts exactly.
        """
        return tuple(layer.macs / math.prod(layer.in_shape) for layer in self.synaptic_layers())

    @property
    def lif_shapes(self) -> tuple[tuple[int, ...], ...]:
        """One sample's neuron shape for each LIF layer, hidden layers then the output."""
        return tuple(stage.out_shape for stage in self.stages)


class SpikingMLP(_SpikingNet):
    """Fully connected: input -> hidden widths -> num_classes, a LIF layer after every Linear."""

    def __init__(self, config: ModelConfig) -> None:
        widths = (math.prod(config.input_shape), *config.hidden, config.num_classes)
        stages = [
            _fc_stage(config, f"fc{i + 1}", (config.input_shape if i == 0 else (widths[i],)), widths[i + 1], i > 0,
                      hidden=i < len(widths) - 2)
            for i in range(len(widths) - 1)
        ]
        super().__init__(config, stages)


class SpikingCNN(_SpikingNet):
    """A conv stack (each block: conv [BN] [pool] -> LIF), then fully connected layers to num_classes."""

    def __init__(self, config: ModelConfig) -> None:
        stages = []
        for i, block in enumerate(conv_plan(config)):
            conv = nn.Conv2d(block.in_shape[0], block.channels, block.kernel, padding=block.padding)
            after = [nn.BatchNorm2d(block.channels) if op == "BN" else
                     (nn.MaxPool2d if op == "MP" else nn.AvgPool2d)(size) for op, size in block.ops]
            stages.append(_Stage(f"conv{i + 1}", [], conv, after, _lif(config, block.out_shape),
                                 block.in_shape, block.out_shape))
        in_shape = stages[-1].out_shape
        widths = (*config.hidden, config.num_classes)
        for i, width in enumerate(widths):
            stages.append(_fc_stage(config, f"fc{i + 1}", in_shape, width, dropout=True, hidden=i < len(widths) - 1))
            in_shape = (width,)
        super().__init__(config, stages)
        # Channels-last convolutions, batch norms and poolings: the conv preset's step 1.18x faster on the CPU
        # (docs/PERFORMANCE.md, "The conv step"); the LIF kernels read any layout.
        self.to(memory_format=torch.channels_last)


def build_model(config: ModelConfig, seed: int | None = None) -> _SpikingNet:
    """The network ``config`` describes; with ``seed``, its initial weights depend on the seed alone.

    Args:
        config: a ``ModelConfig``.
        seed: seeds the weight initialisation without touching the global RNG; None uses the global RNG.
    Returns:
        A ``SpikingMLP`` or ``SpikingCNN``.
    """
    if not isinstance(config, ModelConfig):
        raise InvalidType(f"config must be a ModelConfig, got {type(config).__name__}")
    cls = SpikingMLP if config.kind == "mlp" else SpikingCNN
    if seed is None:
        return cls(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(config)


class ConvBlock(NamedTuple):
    """One parsed block of a conv spec: a convolution, then BN / pooling ops, then a LIF layer."""

    channels: int
    kernel: int
    padding: int
    ops: tuple[tuple[str, int], ...]   # ("BN", 0), ("MP", 2), ("AP", 2)
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]


_TOKEN = re.compile(r"^(?:(?P<channels>\d+)C(?P<kernel>\d+)|(?P<pool>MP|AP)(?P<size>\d+)|(?P<bn>BN))$")


def conv_plan(config: ModelConfig) -> tuple[ConvBlock, ...]:
    """Parse ``config.conv`` into blocks with their shapes; a ValueError says what is wrong with the spec."""
    blocks: list[dict] = []
    shape = tuple(config.input_shape)
    for token in config.conv.replace(" ", "").upper().split("-"):
        match = _TOKEN.match(token)
        if match is None:
            raise InvalidValue(f"bad conv token {token!r} in {config.conv!r}; {CONV_SPEC_HELP}")
        if match["channels"]:
            channels, kernel = int(match["channels"]), int(match["kernel"])
            if channels < 1 or kernel < 1:
                raise InvalidValue(f"conv token {token!r} needs channels >= 1 and kernel >= 1")
            if config.padding == "same" and kernel % 2 == 0:
                raise InvalidValue(f"padding 'same' needs odd kernels, got {token!r}; use an odd kernel or 'valid'")
            padding = kernel // 2 if config.padding == "same" else 0
            blocks.append(dict(channels=channels, kernel=kernel, padding=padding, ops=[], in_shape=shape))
            shape = (channels, shape[1] + 2 * padding - kernel + 1, shape[2] + 2 * padding - kernel + 1)
        elif not blocks:
            raise InvalidValue(f"conv spec {config.conv!r} must start with a convolution; {CONV_SPEC_HELP}")
        elif match["bn"]:
            blocks[-1]["ops"].append(("BN", 0))
        else:
            size = int(match["size"])
            if size < 1:
                raise InvalidValue(f"pool token {token!r} needs a size >= 1")
            blocks[-1]["ops"].append((match["pool"], size))
            shape = (shape[0], shape[1] // size, shape[2] // size)
        if min(shape[1:]) < 1:
            raise InvalidValue(f"conv spec {config.conv!r} shrinks the {config.input_shape[1]}x"
                               f"{config.input_shape[2]} input to nothing at {token!r}; use fewer or smaller layers")
        blocks[-1]["out_shape"] = shape
    return tuple(ConvBlock(b["channels"], b["kernel"], b["padding"], tuple(b["ops"]), b["in_shape"],
                           b["out_shape"]) for b in blocks)


def _fc_stage(config: ModelConfig, name: str, in_shape: tuple[int, ...], width: int, dropout: bool,
              hidden: bool = False) -> _Stage:
    """A fully-connected stage; a hidden one of a ``recurrent`` model feeds its own spikes back."""
    before: list[nn.Module] = [nn.Flatten()] if len(in_shape) > 1 else []
    if dropout and config.dropout > 0:
        before.append(nn.Dropout(config.dropout))
    linear = nn.Linear(math.prod(in_shape), width)
    if hidden and config.recurrent:
        lif = _recurrent_lif(config, width)
    elif not hidden and config.readout == "li":  # hidden=False is the output stage
        lif = LI(config.beta, learn_beta=config.learn_beta, learn_tau=config.learn_tau, shape=(width,))
    else:
        lif = _lif(config, (width,))
    return _Stage(name, before, linear, [], lif, tuple(in_shape), (width,))


def _recurrent_lif(config: ModelConfig, width: int) -> RecurrentLIF | RecurrentALIF:
    options = dict(reset=config.reset, surrogate=config.surrogate, learn_beta=config.learn_beta,
                   learn_threshold=config.learn_threshold, learn_tau=config.learn_tau)
    if config.neuron == "alif":
        return RecurrentALIF(width, config.beta, config.threshold, adapt_decay=config.adapt_decay,
                             adapt_step=config.adapt_step, **options)
    return RecurrentLIF(width, config.beta, config.threshold, **options)


def _lif(config: ModelConfig, shape: tuple[int, ...]) -> LIF:
    """A layer of the configured neuron (the registry's ``NeuronKind.layer``)."""
    kind = neurons.kind(config.neuron)
    beta = config.beta if kind.fixed_beta is None else kind.fixed_beta
    return kind.layer(beta, config.threshold, config.neuron_settings(), reset=config.reset,
                      surrogate=config.surrogate, learn_beta=config.learn_beta,
                      learn_threshold=config.learn_threshold, learn_tau=config.learn_tau, shape=shape)


def _over_time(layer, seq: Tensor) -> Tensor:
    """Apply a stateless ``layer`` to every step at once: ``[T, B, ...] -> [T*B, ...] -> [T, B, ...]``."""
    out = layer(seq.flatten(0, 1))
    return out.unflatten(0, seq.shape[:2])


def _positive_ints(name: str, value) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidValue(f"{name} must be a list of whole numbers, got {value!r}")
    items = tuple(value)
    if any(not is_whole_number(v) or v < 1 for v in items):
        raise InvalidValue(f"{name} must be whole numbers >= 1, got {list(items)}")
    return items
