"""A run directory -> one self-contained HTML page, ``report.html``.

Every picture is inline (PNG and GIF as base64 ``data:`` URIs) and the page has no script, web font or
link to fetch, so it opens offline and makes no request. Sections: summary, configuration, training
curves, test results (confusion matrix, per-class accuracy), right and wrong predictions with their
output rasters, one image seen inside the network, spikes per layer and the energy estimate, and spike
encodings of a digit.

The test-set numbers come from ``evaluation.json`` (what ``spikevision evaluate`` writes) when it is newer
than the checkpoint; otherwise the run is evaluated now and that file and ``confusion.png`` are written.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from spikevision import metrics
from spikevision.analysis import inspection
from spikevision.data import encoding
from spikevision.errors import InvalidValue
from spikevision.pictures import animation, figures
from spikevision.runs import rundir
from spikevision.runs.checkpoint import atomic_path
from spikevision.runs.evaluation import evaluate
from spikevision.runs.inputs import TensorData, dense_input_macs, load_data, step_generator
from spikevision.validators import check_whole_number

# Latency code of the encode section when the run has its own none: the handout's tau and threshold,
# stretched over the window (normalize) so that any number of steps holds every spike.
_LATENCY_SHOWN = {**encoding.HANDOUT_LATENCY, **encoding.LATENCY_VARIANTS[-1][1]}
# Steps of the encode animations made for the report: enough to see a code, few enough for a small page.
_ENCODE_STEPS = (10, 100)
_MIME = {".png": "image/png", ".gif": "image/gif"}


def evaluation(run_dir: Path, model, config, test: TensorData, *, reuse: bool = True, save: bool = True) -> dict:
    """The run's test-set evaluation, reused from ``evaluation.json`` when it is newer than the checkpoint
    (and ``reuse``).

    Otherwise it evaluates every test image (``evaluation.evaluate``) and writes ``evaluation.json``,
    ``confusion.png`` and ``confusion.json`` into ``run_dir``, as ``spikevision evaluate`` does.
    """
    saved = rundir.saved_evaluation(run_dir) if reuse else None
    if saved is not None:
        return saved
    result = evaluate(model, test, config.train, seed=config.train.seed)
    result["classes"] = list(test.classes)
    if save:
        try:
            save_evaluation(run_dir, result)
        except OSError as exc:  # an unwritable run directory: say what was computed before giving up
            raise OSError(f"{exc}; the run's test accuracy is {result['accuracy'] * 100:.2f}% on "
                          f"{result['num_samples']:,} images (not saved)") from None
    return result


def save_evaluation(run_dir: Path, result: dict) -> None:
    """Write ``evaluation.json``, ``confusion.png`` and ``confusion.json`` of ``result`` into ``run_dir``."""
    rundir.write_json(Path(run_dir) / rundir.EVALUATION, result)
    figures.confusion(run_dir, result["confusion"], result["classes"])


def build_report(run_dir: str | Path, *, root: str | Path | None = None, examples: int = 3,
                 device: str = "auto") -> Path:
    """Write ``report.html`` into ``run_dir`` and return its path.

    Args:
        run_dir: a trained run (``spikevision train``): config.json, checkpoint, metrics.jsonl.
        root: data directory (default: ``$SPIKEVISION_DATA`` or the user cache).
        examples: how many right and how many wrong predictions to show (>= 1).
        device: where the network runs for the evaluation and the examples (``devices`` names).

    Returns:
        The path of the HTML file.
    """
    check_whole_number("examples", examples, 1)
    run_dir = Path(run_dir)
    config, model = rundir.load_run(run_dir, device)
    cfg = config.train
    test = load_data(cfg, "test", root, cfg.test_subset)
    result = evaluation(run_dir, model, config, test)
    figures.training_curves(run_dir)
    right, wrong = inspection.find_examples(model, cfg, test, right=examples, wrong=examples)
    inspected = {ins.index: ins for ins in inspection.inspect_samples(model, cfg, test, right + wrong)}
    summary = rundir.read_json(run_dir / rundir.SUMMARY, {})
    state = rundir.training_state(run_dir, config)
    unfinished = "" if state.finished else state.describe(run_dir)
    sections = [
        ("summary", "Summary", _summary(config, model, result, summary, unfinished)),
        ("config", "Configuration", _config(config)),
        ("training", "Training", _training(run_dir)),
        ("results", "Test results", _results(run_dir, result)),
        ("predictions", "Right and wrong predictions",
         _predictions([inspected[i] for i in right], [inspected[i] for i in wrong], test.classes)),
        ("inside", "Inside the network",
         _inside(inspected[(wrong or right)[0]], test.classes, inspection.output_threshold(model))),
        ("activity", "Spikes per layer and energy", _activity(model, cfg, result)),
        ("encoding", "Spike encodings", _encodings(run_dir, cfg, test)),
    ]
    title = f"spikevision run report: {run_dir.resolve().name}"
    page = _page(title, sections)
    path = run_dir / rundir.REPORT
    with atomic_path(path, make_folder=True) as tmp:  # readable by all, like the figures beside it
        tmp.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- sections


def _summary(config, model, result: dict, summary: dict, unfinished: str) -> str:
    """The summary table; ``unfinished``: what to say of a run whose training stopped early ("" if finished)."""
    cfg = config.train
    if config.model.kind == "mlp":
        widths = [math.prod(layer.in_shape) for layer in model.synaptic_layers()] + [config.model.num_classes]
        shape = "-".join(map(str, widths)) + " fully connected"
    else:
        dense = "-".join(map(str, (*config.model.hidden, config.model.num_classes)))
        shape = f"convolutional ({config.model.conv}, then {dense} fully connected)"
    rows = [
        ("Test accuracy", f"<strong>{result['accuracy'] * 100:.2f}%</strong> on {result['num_samples']:,} "
                          f"{_e(cfg.dataset)} test images (none dropped)"),
        ("Network", f"{_e(shape)} LIF network, beta {config.model.beta:g}, threshold {config.model.threshold:g}, "
                    f"{sum(p.numel() for p in model.parameters()):,} parameters"),
        ("Input", f"{_e(cfg.encoding)} encoding, {cfg.num_steps} time steps"),
        ("Training", (f"<strong>{_e(unfinished)}</strong>; " if unfinished else "")
                     + f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}, batch {cfg.batch_size}, "
                     f"{_e(cfg.optimizer)} lr {cfg.lr:g}, loss {_e(cfg.loss)}"
                     + (f", {summary['train_seconds']:.0f} s" if "train_seconds" in summary else "")),
        ("Prediction", _e(metrics.RULE_TEXT[cfg.prediction]) + "".join(
            f"; by the rule <code>{_e(rule)}</code> ({_e(metrics.RULE_TEXT[rule])}): {acc * 100:.2f}%"
            for rule, acc in result.get("accuracy_by_rule", {}).items() if rule != cfg.prediction)),
    ]
    return _table(["", ""], rows, header=False, raw=True)


def _config(config) -> str:
    settings = config.to_dict()
    parts = [f"<p>Preset <code>{_e(config.preset or '(none)')}</code>; saved in <code>config.json</code> "
             "beside the checkpoint.</p>", '<div class="columns">']
    for section in ("model", "train"):
        rows = [(key, json.dumps(value)) for key, value in settings[section].items()]
        parts.append(f"<div><h3>{section}</h3>{_table(['key', 'value'], rows, code=True)}</div>")
    parts.append("</div>")
    return "".join(parts)


def _training(run_dir: Path) -> str:
    epochs = [r for r in rundir.read_metrics(run_dir) if r["kind"] == "epoch"]
    parts = []
    if (run_dir / rundir.LOSS_PLOT).is_file():
        parts.append(_figure_file(run_dir / rundir.LOSS_PLOT, "Training loss of each batch (with its moving average on "
                                  "long runs): it falls as the network learns."))
    if len(epochs) > 1:
        parts.append(_figure_file(run_dir / rundir.ACCURACY_PLOT, "Accuracy on the whole test set after each epoch."))
    elif epochs:  # one point makes no curve
        parts.append(f"<p>Test accuracy after the single epoch: {epochs[0]['test_accuracy'] * 100:.2f}%.</p>")
    return "".join(parts) or "<p>No training records (metrics.jsonl is empty).</p>"


def _results(run_dir: Path, result: dict) -> str:
    classes = result["classes"]
    confusion = result["confusion"]
    rows = []
    known = [a for a in result["per_class_accuracy"] if a is not None and not math.isnan(a)]
    # The bars start at a round number below the worst class, so that 92.9 % and 99 % look different.
    floor = max(0.0, 5.0 * math.floor((min(known, default=0.0) * 100 - 2.0) / 5.0))
    for i, (name, acc) in enumerate(zip(classes, result["per_class_accuracy"])):
        total = sum(confusion[i])
        shown = "n/a" if acc is None or math.isnan(acc) else f"{acc * 100:.2f}%"
        width = 0.0 if shown == "n/a" else max(0.0, (acc * 100 - floor) / (100 - floor) * 100)
        bar = "" if shown == "n/a" else f'<span class="bar" style="width:{width:.1f}%"></span>'
        rows.append((_e(name), f"{confusion[i][i]:,} / {total:,}", f'<div class="meter">{bar}</div>', shown))
    per_class = _table(["class", "right / images", f"bar: {floor:g} to 100 %", "accuracy"], rows, raw=True,
                       cls="per-class")
    confusion_png = run_dir / rundir.CONFUSION_PLOT
    figure = _figure_file(confusion_png, "Confusion matrix of the whole test set: rows are true classes, columns "
                          "predicted ones; the colour is the fraction of the true class, each cell its count.")
    return (f"<p>Accuracy {result['accuracy'] * 100:.2f}% and mean loss {result['loss']:.4f} on all "
            f"{result['num_samples']:,} test images.</p>" + f'<div class="columns">{figure}'
            f"<div><h3>Per-class accuracy</h3>{per_class}</div></div>")


def _predictions(right: list, wrong: list, classes) -> str:
    parts = []
    for kind, chosen in (("right", right), ("wrong", wrong)):
        if not chosen:
            parts.append(f"<p>No {kind} prediction in the whole test set.</p>")
            continue
        fig = figures.prediction_examples(chosen, classes, title=f"The first {len(chosen)} {kind} predictions "
                                          "of the test set, with their output spikes")
        parts.append(_figure_png(fig, f"The first {kind} predictions in test-set order: each digit beside its "
                                 "output raster (one row per class; the prediction is the row with most spikes).",
                                 f"{kind} predictions"))
    return "".join(parts)


def _inside(ins, classes, threshold: float | None) -> str:
    verdict = "misclassified" if not ins.correct else "classified correctly"
    intro = (f"<p>Test image {ins.index} (true {_e(classes[ins.label])}, predicted {_e(classes[ins.prediction])}, "
             f"{verdict}) as it passes through every layer.</p>")
    with tempfile.TemporaryDirectory() as tmp:
        gif = animation.spike_count_animation(ins.spk, Path(tmp) / "counts.gif", classes, figsize=(5.6, 3.5), dpi=80,
                                              title=f"Output spike count, test image {ins.index}")
        counts = _figure_file(gif, "Running spike count of each output neuron, one frame per time step; "
                              "the leading neuron is highlighted.")
    return (intro
            + _figure_png(figures.layer_activity(ins, classes), "Input, hidden and output activity on one time "
                          "axis (the input is the pixel values at every step for direct encoding).", "layer rasters")
            + _figure_png(figures.output_membranes(ins, classes, threshold), "Membrane potential of each output "
                          "neuron; a neuron spikes when it crosses the dashed threshold, then drops by it.",
                          "output membranes")
            + counts)


def _activity(model, cfg, result: dict) -> str:
    spikes = result["spikes_per_sample"]
    layers = model.synaptic_layers()
    rows = []
    if spikes.get("input") is not None:
        rows.append(("input (encoded image)", f"{math.prod(layers[0].in_shape):,}", f"{spikes['input']:,.1f}",
                     _rate(spikes["input"], math.prod(layers[0].in_shape), cfg.num_steps), "-"))
    else:
        fed = "one row of pixel values per step" if cfg.encoding == "rows" else "pixel values"
        rows.append((f"input ({cfg.encoding}: {fed}, no spikes)", f"{math.prod(layers[0].in_shape):,}", "-", "-", "-"))
    for i, (layer, count, synops) in enumerate(zip(layers, spikes["layers"], result["synops_per_layer"])):
        neurons = math.prod(layer.out_shape)
        # A layer fed by the pixels themselves (direct or rows) does dense multiply-accumulates, not SynOps.
        dense = dense_input_macs(cfg, layer.macs) if i == 0 else 0
        into = f"{dense:,} dense MACs" if dense else f"{synops:,.0f}"
        rows.append((layer.name, f"{neurons:,}", f"{count:,.1f}", _rate(count, neurons, cfg.num_steps), into))
    table = _table(["LIF layer", "neurons", "spikes per image", "spikes per neuron per step",
                    "synaptic operations into it"], rows)
    energy = result["energy"]
    return (f"<p>Averages over all {result['num_samples']:,} test images, {cfg.num_steps} time steps each: "
            f"{spikes['total']:,.1f} spikes and {result['synops_per_sample']:,.0f} synaptic operations "
            "(a spike reaching a synapse) per image.</p>" + table
            + '<h3>Energy estimate</h3><p class="estimate"><strong>This is an estimate, not a measurement.</strong> '
            f"Per test image the spiking network needs about <strong>{energy['snn_nj_per_sample']:,.1f} nJ</strong>, "
            f"an equal non-spiking network about <strong>{energy['ann_nj_per_sample']:,.1f} nJ</strong> "
            f"(ratio {energy['snn_to_ann_ratio']:.3f}). Method: {_e(energy['note'])}; a layer fed by the raw image "
            "computes its current once, as dense multiply-accumulates. Memory traffic, the neurons' own updates "
            "and real hardware are left out.</p>")


def _encodings(run_dir: Path, cfg, test: TensorData) -> str:
    if cfg.encoding == "frames":
        return _events(cfg, test)
    found = sorted(p for coding in encoding.CODINGS for p in run_dir.glob(f"**/*-{coding}.gif"))[:4]
    if found:
        return ("<p>Spike movies written by <code>spikevision encode</code> into this run directory.</p>"
                + "".join(_figure_file(p, f"{p.relative_to(run_dir)}") for p in found))
    image = test.images[:1]  # (1, 1, H, W)
    label = test.classes[int(test.labels[0])]
    steps = min(max(cfg.num_steps, _ENCODE_STEPS[0]), _ENCODE_STEPS[1])
    parts = ['<div class="gallery">']
    with tempfile.TemporaryDirectory() as tmp:
        for coding, options in (("rate", {}), ("latency", _LATENCY_SHOWN)):
            own = cfg.encoding == coding  # the run's own code, exactly as the network receives it
            if own:
                spikes = inspection.sample_input(image, [0], cfg)
            else:
                generator = {"generator": step_generator(cfg.seed, 0)} if coding == "rate" else {}
                spikes = encoding.encode(image, coding, steps, **options, **generator)
            shown = dict(cfg.encoding_options) if own else options
            described = ", ".join(f"{k}={v}" for k, v in shown.items()) or "gain=1"
            gif = animation.save_animation(spikes[:, 0, 0], Path(tmp) / f"{coding}.gif", scale=6, fps=20)
            caption = (f"{coding.capitalize()} code of test image 0 (label {_e(label)}), {spikes.shape[0]} steps, "
                       f"{_e(described)}: {int(spikes.count_nonzero()):,} spikes"
                       + (" (this run's input)." if own else "."))
            parts.append(_figure_file(gif, caption))
    parts.append("</div>")
    intro = ("<p>How an image becomes spikes: a rate code fires each pixel at random with its brightness as the "
             "probability; a latency code fires each pixel once, brighter pixels first. "
             + ("This run feeds the image directly as a constant current, so these are for comparison."
                if cfg.encoding == "direct" else "") + "</p>")
    return intro + "".join(parts)


def _events(cfg, test: TensorData) -> str:
    """An event run's input: test sample 0's ON/OFF movie and its frames as the network receives them."""
    from spikevision.pictures import events as event_pictures

    split = test.images.events  # the EventSet behind the frames
    sample, label = split.sample(0), test.classes[int(test.labels[0])]
    title = f"{cfg.dataset} test sample 0 ({label})"
    with tempfile.TemporaryDirectory() as tmp:
        movie = event_pictures.save_movie(sample, split.sensor, Path(tmp) / "events.gif", bins=cfg.num_steps, fps=4)
        parts = [_figure_file(movie, f"{_e(title)}: {len(sample):,} events, ON minus OFF counts in each of the "
                                     f"{cfg.num_steps} time bins the network reads, one a step.")]
    grid = event_pictures.frames_figure(sample, split.sensor, title=title, bins=min(cfg.num_steps, 12))
    parts.append(_figure_png(grid, "The same sample's time bins side by side (orange ON, blue OFF).",
                             "frames of an event sample"))
    return ("<p>This run reads events: each sample is cut into equal time bins, and each bin's ON and OFF "
            "event counts per pixel are the input of one step.</p>" + "".join(parts))


# --------------------------------------------------------------------------- HTML


_CSS = """
:root { --ink: #1d232b; --muted: #5b6672; --line: #d9dee4; --accent: #0072B2; --paper: #ffffff; --wash: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--wash); color: var(--ink);
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 1.5rem; }
h1 { font-size: 1.7rem; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 0.75rem; padding-bottom: 0.25rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1rem 0 0.5rem; }
.sub { color: var(--muted); margin: 0 0 0.75rem; }
nav { background: var(--paper); border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1.25rem; }
nav ol { margin: 0; padding-left: 1.25rem; columns: 2; }
a { color: var(--accent); }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 6px; padding: 0.25rem 1.25rem 1rem;
          margin-top: 1.25rem; }
section > h2 { margin-top: 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.93rem; }
th, td { text-align: left; padding: 0.3rem 0.75rem 0.3rem 0; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td code { font-size: 0.85rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
figcaption { color: var(--muted); font-size: 0.9rem; margin-top: 0.35rem; }
.columns { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.columns > * { flex: 1 1 20rem; min-width: 0; }
.gallery { display: flex; flex-wrap: wrap; gap: 1.25rem; }
.gallery figure { flex: 0 1 16rem; }
.meter { width: 8rem; height: 0.7rem; background: var(--wash); border: 1px solid var(--line); border-radius: 3px; }
.meter .bar { display: block; height: 100%; background: var(--accent); }
.estimate { background: #fff8e6; border-left: 4px solid #E69F00; padding: 0.5rem 0.75rem; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 2rem; }
"""


def _page(title: str, sections: list[tuple[str, str, str]]) -> str:
    toc = "".join(f'<li><a href="#{key}">{_e(name)}</a></li>' for key, name, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{_e(name)}</h2>{content}</section>' for key, name, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No request may leave the page: images are inline, and nothing else is allowed to load.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f'<header><h1>{_e(title)}</h1><p class="sub">A spiking neural network, trained and '
        "evaluated by spikevision. Every picture is inside this file.</p></header>"
        f'<nav aria-label="Contents"><strong>Contents</strong><ol>{toc}</ol></nav>{body}'
        "<footer>Written by <code>spikevision report</code>.</footer></main></body></html>\n"
    )


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _table(headers: list[str], rows: list, *, header: bool = True, raw: bool = False, code: bool = False,
           cls: str = "") -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are trusted HTML made here)."""
    def cell(value: Any) -> str:
        text = str(value) if raw else _e(value)
        return f"<code>{text}</code>" if code else text

    head = "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    attribute = f' class="{cls}"' if cls else ""
    return f"<table{attribute}>{head}<tbody>{body}</tbody></table>"


def _img(payload: bytes, mime: str, alt: str) -> str:
    encoded = base64.b64encode(payload).decode("ascii")
    return f'<img src="data:{mime};base64,{encoded}" alt="{_e(alt)}">'


def _figure(payload: bytes, mime: str, caption: str, alt: str) -> str:
    return f"<figure>{_img(payload, mime, alt)}<figcaption>{caption}</figcaption></figure>"


def _figure_file(path: Path, caption: str) -> str:
    """A PNG or GIF file as an inline figure; ``caption`` is trusted HTML."""
    path = Path(path)
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise InvalidValue(f"cannot inline {path}: only {', '.join(_MIME)} images")
    return _figure(path.read_bytes(), mime, caption, alt=path.stem.replace("-", " "))


def _figure_png(fig, caption: str, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return _figure(buffer.getvalue(), "image/png", caption, alt)


def _rate(spikes: float, neurons: int, steps: int) -> str:
    return f"{spikes / (neurons * steps):.4f}"
