// spikevision play: draw a digit, send it to the local server, and show what the network did with it.
// Everything here is this file's own: no library, nothing fetched from anywhere but this server.
"use strict";

const $ = (id) => document.getElementById(id);
const PEN_WIDTH = 18;          // pixels on the 280x280 pad (spikevision.data.drawn.LINE_WIDTH draws the same)
const PLAY_MS_PER_STEP = 60;   // the player's pace

const state = {
  runs: [], limits: null, run: null,
  picture: null,     // the Blob last sent: the pad's PNG, or an uploaded file as it is
  result: null,      // the server's last answer, spikes unpacked
  t: 0, timer: null, sent: 0, shown: 0,
  timings: [],       // per answer: stroke end (or change) -> request -> answer -> pictures drawn, in ms
};
window.spikevisionPlay = state;  // for the tests and the benchmark

// ---- spikes travel as packed bits (numpy.packbits, big-endian) in base64 ----
function unpack(packed) {
  const bytes = Uint8Array.from(atob(packed.bits), (c) => c.charCodeAt(0));
  const n = packed.shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return { shape: packed.shape, data: out, perStep: n / packed.shape[0] };
}

// ---- the drawing pad: pointer events cover mouse, pen and touch ----
const pad = $("pad");
const ink = pad.getContext("2d");
function clearPad() {
  ink.fillStyle = "#000";
  ink.fillRect(0, 0, pad.width, pad.height);
}
function padPoint(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}
let drawing = false;
pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  try { pad.setPointerCapture(event.pointerId); } catch (error) { /* a pointer the browser no longer tracks */ }
  const [x, y] = padPoint(event);
  ink.strokeStyle = "#fff"; ink.fillStyle = "#fff";
  ink.lineWidth = PEN_WIDTH; ink.lineCap = "round"; ink.lineJoin = "round";
  ink.beginPath(); ink.arc(x, y, PEN_WIDTH / 2, 0, 2 * Math.PI); ink.fill();
  ink.beginPath(); ink.moveTo(x, y);
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = padPoint(event);
  ink.lineTo(x, y); ink.stroke();
  ink.beginPath(); ink.moveTo(x, y);
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  const ended = performance.now();
  busy(true);
  state.picture = padPicture();
  send(ended);
}
// The pad as a PNG Blob, at once (toBlob waits for an idle moment: up to a second in a busy browser).
function padPicture() {
  const text = atob(pad.toDataURL("image/png").split(",")[1]);
  return new Blob([Uint8Array.from(text, (c) => c.charCodeAt(0))], { type: "image/png" });
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

$("clear").addEventListener("click", () => {
  clearPad(); state.picture = null; state.result = null; stopPlaying(); showMessage(""); drawAll();
});
$("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  const limit = state.limits.max_body_bytes;
  if (file.size > limit) {
    showMessage(TEXT.tooBig(file.name, (file.size / 1e6).toFixed(1), (limit / 1e6).toFixed(0)));
    return;
  }
  state.picture = file;  // sent as it is: the same bytes `spikevision predict` reads from the file
  busy(true);
  showOnPad(file);
  send(performance.now());
});
function showOnPad(file) {
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    clearPad();
    const scale = Math.min(pad.width / img.width, pad.height / img.height);
    const w = img.width * scale, h = img.height * scale;
    ink.drawImage(img, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    URL.revokeObjectURL(url);
  };
  img.onerror = () => URL.revokeObjectURL(url);
  img.src = url;
}
function showMessage(text) { $("message").textContent = text; }
// body[data-busy]: "true" from a stroke's end (or a change) until its answer is shown: what tests wait on.
function busy(on) { document.body.dataset.busy = String(on); }

// ---- the coding controls ----
function codingQuery() {
  const encoding = $("encoding").value;
  const query = new URLSearchParams({ run: state.run.name, encoding, steps: $("steps").value });
  if (encoding === "rate") query.set("gain", $("gain").value);
  if (encoding === "latency") {
    query.set("tau", $("tau").value); query.set("threshold", $("threshold").value);
    for (const flag of ["linear", "normalize", "clip"]) query.set(flag, $(flag).checked ? "true" : "false");
  }
  return query;
}
function setCoding(coding) {
  const defaults = state.limits.defaults;
  // A rows network reads rows only, and rows are for a rows network only (the server refuses the rest).
  // A network reads what it was trained on: whole pictures (direct, rate, latency), rows, or events (frames).
  const kind = (name) => (name === "rows" || name === "frames" ? name : "picture");
  const offered = state.limits.encodings.filter((name) => kind(name) === kind(coding.encoding));
  $("encoding").replaceChildren(...offered.map((name) => new Option(TEXT.codings[name], name)));
  $("encoding").value = coding.encoding;
  $("steps").value = coding.steps;
  const rate = { ...defaults.rate, ...(coding.encoding === "rate" ? coding.options : {}) };
  const latency = { ...defaults.latency, ...(coding.encoding === "latency" ? coding.options : {}) };
  $("gain").value = rate.gain;
  $("tau").value = latency.tau; $("threshold").value = latency.threshold;
  for (const flag of ["linear", "normalize", "clip"]) $(flag).checked = Boolean(latency[flag]);
  showCodingOptions();
}
function showCodingOptions() {
  for (const div of document.querySelectorAll(".options")) div.hidden = div.dataset.coding !== $("encoding").value;
  $("steps-out").textContent = $("steps").value;
  $("gain-out").textContent = Number($("gain").value).toFixed(2);
  const own = state.run.coding;
  const same = $("encoding").value === own.encoding && Number($("steps").value) === own.steps;
  $("coding-note").textContent = same ? TEXT.ownCodingNote : TEXT.trainedWith(TEXT.codings[own.encoding], own.steps);
}
for (const id of ["encoding", "steps", "gain", "tau", "threshold", "linear", "normalize", "clip"]) {
  $(id).addEventListener("input", showCodingOptions);
  $(id).addEventListener("change", () => { showCodingOptions(); resend(); });
}
$("own-coding").addEventListener("click", () => { setCoding(state.run.coding); resend(); });
function resend() { if (state.picture) { busy(true); send(performance.now()); } }

// ---- talking to the server ----
async function send(started) {
  if (!state.picture || !state.run) return;
  const number = ++state.sent;
  const timing = { started };
  let answer, body;
  try {
    timing.request = performance.now();
    answer = await fetch("/api/look?" + codingQuery(), { method: "POST", body: state.picture,
                                                          headers: { "Content-Type": "application/octet-stream" } });
    body = await answer.json();
  } catch (error) {
    if (number === state.sent) { showMessage(TEXT.noAnswer); busy(false); }
    return;
  }
  if (number !== state.sent) return;  // a newer picture is on its way
  timing.answered = performance.now();
  if (!answer.ok) { showMessage(refusalText(body, answer.status)); busy(false); return; }
  showMessage("");
  state.result = {
    ...body, input: body.input && unpack(body.input), output: { ...body.output, spikes: unpack(body.output) },
    layers: body.layers.map((layer) => ({ name: layer.name, ...unpack(layer) })),
  };
  stopPlaying();
  state.t = state.result.output.spikes.shape[0] - 1;  // the whole window first; play replays it
  const time = $("time");
  time.max = state.t; time.value = state.t;
  buildLayers();
  drawAll();
  timing.drawn = performance.now();
  timing.server_ms = body.server_ms;
  state.timings.push(timing);
  state.shown = number;
  $("timing").textContent = TEXT.timing(Math.round(timing.drawn - timing.started), Math.round(body.server_ms));
  document.body.dataset.shown = String(number);
  busy(false);
}

// ---- drawing what the network did ----
function drawPixels(canvas, values) {  // values: 784 numbers in [0, 1]
  canvas.width = 28; canvas.height = 28;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(255 * values[i]);
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}
const ON_RGB = [230, 159, 0], OFF_RGB = [0, 114, 178];  // the figures' ON and OFF colours (Okabe-Ito)
function drawEvents(canvas, input, t) {  // input [T, 2, H, W]: OFF channel 0, ON channel 1, at step t
  const [, , h, w] = input.shape, plane = h * w, at = t * input.perStep;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < plane; i++) {
    const off = input.data[at + i], on = input.data[at + plane + i];
    img.data.set(on ? [...ON_RGB, 255] : off ? [...OFF_RGB, 255] : [0, 0, 0, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}
function drawRaster(canvas, spikes, t) {  // rows: neurons, columns: steps; steps after t faded
  const steps = spikes.shape[0], n = spikes.perStep;
  canvas.width = steps; canvas.height = n;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(steps, n);
  for (let s = 0; s < steps; s++) {
    const past = s <= t;
    for (let i = 0; i < n; i++) {
      const at = 4 * (i * steps + s);
      const on = spikes.data[s * n + i];
      if (on) img.data.set(past ? [31, 95, 191, 255] : [190, 205, 230, 255], at);
      else img.data.set(s === t ? [255, 236, 200, 255] : [255, 255, 255, 255], at);
    }
  }
  ctx.putImageData(img, 0, 0);
}
function buildLayers() {
  const holder = $("layers");
  holder.replaceChildren();
  for (const [index, layer] of state.result.layers.entries()) {
    const title = document.createElement("h2");
    const units = layer.shape.slice(1).join("x");
    title.innerHTML = TEXT.layer(layer.name, units);
    const raster = document.createElement("canvas");
    raster.className = "raster"; raster.id = `layer-${index}`;
    holder.append(title, raster);
    if (layer.shape.length === 4) {  // a conv layer: its feature maps at the chosen step
      const caption = document.createElement("h2");
      caption.innerHTML = TEXT.featureMaps(layer.name, layer.shape[1]);
      const maps = document.createElement("div");
      maps.className = "maps"; maps.id = `maps-${index}`;
      for (let c = 0; c < layer.shape[1]; c++) {
        const map = document.createElement("canvas");
        map.width = layer.shape[3]; map.height = layer.shape[2];
        maps.append(map);
      }
      holder.append(caption, maps);
    }
  }
}
function drawMaps(index, layer, t) {
  const [, channels, h, w] = layer.shape;
  const maps = $(`maps-${index}`).children;
  for (let c = 0; c < channels; c++) {
    const ctx = maps[c].getContext("2d");
    const img = ctx.createImageData(w, h);
    const base = t * layer.perStep + c * h * w;
    for (let i = 0; i < h * w; i++) {
      const v = layer.data[base + i] ? 255 : 0;
      img.data.set([v, v, v, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
  }
}
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
function drawMembranes(t) {
  const canvas = $("membranes");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const result = state.result;
  if (!result) return;
  const mem = result.output.mem, steps = mem.length, classes = mem[0].length;
  const threshold = result.output.threshold;
  let lo = Math.min(0, ...mem.flat()), hi = Math.max(threshold ?? 1, ...mem.flat());
  if (hi - lo < 1e-6) hi = lo + 1;
  const x = (s) => 30 + (canvas.width - 40) * (steps === 1 ? 0.5 : s / (steps - 1));
  const y = (v) => canvas.height - 16 - (canvas.height - 26) * (v - lo) / (hi - lo);
  ctx.strokeStyle = "#ccc"; ctx.setLineDash([]); ctx.beginPath(); ctx.moveTo(x(t), 0); ctx.lineTo(x(t), canvas.height); ctx.stroke();
  for (let c = 0; c < classes; c++) {
    ctx.strokeStyle = classColour(c);
    ctx.lineWidth = c === result.prediction ? 2.5 : 1;
    ctx.beginPath();
    for (let s = 0; s <= t; s++) (s ? ctx.lineTo : ctx.moveTo).call(ctx, x(s), y(mem[s][c]));
    ctx.stroke();
  }
  ctx.lineWidth = 1;
  if (threshold !== null) {  // drawn over the lines, so it shows where they reach it, the last step too
    ctx.strokeStyle = "#222"; ctx.setLineDash([5, 4]); ctx.beginPath();
    ctx.moveTo(30, y(threshold)); ctx.lineTo(canvas.width - 10, y(threshold)); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#222"; ctx.fillText(TEXT.thresholdLine, 32, y(threshold) - 3);
  }
  const labels = spreadLabels(Array.from({ length: classes }, (_, c) => y(mem[t][c])), LABEL_GAP, 8, canvas.height - 4);
  labels.forEach((at, c) => { ctx.fillStyle = classColour(c); ctx.fillText(result.classes[c], x(t) + 3, at + 3); });
  state.membraneLabels = labels;  // for the tests: where each class's label went
  ctx.fillStyle = "#555";
  ctx.fillText(hi.toFixed(1), 2, 12); ctx.fillText(lo.toFixed(1), 2, canvas.height - 16);
}
const LABEL_GAP = 11;  // pixels between two labels' baselines: one line of the canvas's 10 px font
function classColour(c) { return COLOURS[c % COLOURS.length]; }
// Label heights as near as can be to ``wanted`` (one per line) but at least ``gap`` apart, within [top, bottom]:
// sorted, pushed down where they crowd, then the whole run pulled back up if it fell off the bottom.
function spreadLabels(wanted, gap, top, bottom) {
  const order = wanted.map((v, i) => i).sort((a, b) => wanted[a] - wanted[b]);
  const at = new Array(wanted.length);
  let previous = -Infinity;
  for (const i of order) { at[i] = Math.max(wanted[i], previous + gap, top); previous = at[i]; }
  let next = Infinity;
  for (const i of order.slice().reverse()) { at[i] = Math.min(at[i], next - gap, bottom); next = at[i]; }
  return at;
}
function countsUpTo(t) {
  const spikes = state.result.output.spikes, n = spikes.perStep, counts = new Array(n).fill(0);
  for (let s = 0; s <= t; s++) for (let c = 0; c < n; c++) counts[c] += spikes.data[s * n + c];
  return counts;
}
function drawBars(t, counts) {  // counts: each output neuron's spikes up to step t (countsUpTo)
  const holder = $("bars");
  holder.replaceChildren();
  if (!state.result) return;
  const most = Math.max(1, ...state.result.counts);
  counts.forEach((count, c) => {
    const bar = document.createElement("div");
    bar.className = "bar" + (c === state.result.prediction && t === state.result.output.spikes.shape[0] - 1 ? " winner" : "");
    bar.dataset.class = String(c);
    const label = document.createElement("span"), fill = document.createElement("span"), value = document.createElement("span");
    label.textContent = state.result.classes[c];
    fill.style.width = `${100 * count / most}%`;
    fill.style.background = classColour(c);  // the colour of this class's membrane line
    value.textContent = String(count);
    bar.append(label, fill, value);
    holder.append(bar);
  });
}
function drawAll() {
  const result = state.result, t = state.t;
  const steps = result ? result.output.spikes.shape[0] : 0;
  $("time-out").textContent = result ? TEXT.step(t + 1, steps) : TEXT.noStep;
  $("predicted").textContent = result ? result.classes[result.prediction] : "-";
  const soFar = result ? countsUpTo(t) : [], last = t === steps - 1;
  $("top").replaceChildren(...(result ? result.top : []).map((top) => {
    const { class: c, count } = top;
    const item = document.createElement("li");
    // The ranking is the whole window's; the counts are the bars' (so far), with the final one beside them.
    item.textContent = count === undefined ? TEXT.topMembrane(result.classes[c], top.mean_membrane.toFixed(2), steps)
      : TEXT.topCount(result.classes[c], TEXT.spikes(soFar[c]), count, steps, last);
    return item;
  }));
  drawBars(t, soFar);
  drawMembranes(t);
  if (!result) {
    for (const id of ["received", "input-now"]) drawPixels($(id), new Array(784).fill(0));
    $("layers").replaceChildren();
    const raster = $("input-raster"); raster.width = 1; raster.height = 1;
    return;
  }
  drawPixels($("received"), result.image);
  $("input-note").hidden = Boolean(result.input);
  $("input-note").textContent = result.coding.encoding === "rows" ? TEXT.rowsNote : TEXT.directNote;
  $("input-raster").hidden = !result.input;
  if (result.input && result.coding.encoding === "frames") {  // events: ON and OFF in their colours
    drawRaster($("input-raster"), result.input, t);
    drawEvents($("input-now"), result.input, t);
    $("input-now-caption").textContent = TEXT.eventsAt(t + 1);
  } else if (result.input) {
    drawRaster($("input-raster"), result.input, t);
    drawPixels($("input-now"), Array.from(result.input.data.subarray(t * 784, (t + 1) * 784)));
    $("input-now-caption").textContent = TEXT.inputSpikesAt(t + 1);
  } else if (result.coding.encoding === "rows") {  // row t alone: what the network reads at step t
    drawPixels($("input-now"), result.image.map((v, i) => (Math.floor(i / 28) === t ? v : 0)));
    $("input-now-caption").textContent = TEXT.rowAt(t + 1);
  } else {
    drawPixels($("input-now"), result.image);
    $("input-now-caption").textContent = TEXT.everyStep;
  }
  result.layers.forEach((layer, index) => {
    drawRaster($(`layer-${index}`), layer, t);
    if (layer.shape.length === 4) drawMaps(index, layer, t);
  });
}

// ---- time: scrub with the slider, or play step by step ----
$("time").addEventListener("input", () => { stopPlaying(); state.t = Number($("time").value); if (state.result) drawAll(); });
function stopPlaying() { clearInterval(state.timer); state.timer = null; }
$("play").addEventListener("click", () => {
  if (!state.result) return;
  stopPlaying();
  state.t = 0;
  const last = state.result.output.spikes.shape[0] - 1;
  const tick = () => {
    $("time").value = state.t; drawAll();
    if (state.t >= last) { stopPlaying(); return; }
    state.t += 1;
  };
  tick();
  state.timer = setInterval(tick, PLAY_MS_PER_STEP);
});

// ---- start: the runs this server was given ----
async function start() {
  applyLanguage();
  clearPad();
  const answer = await fetch("/api/runs");
  const body = await answer.json();
  state.runs = body.runs; state.limits = body.limits;
  $("steps").max = body.limits.max_steps;
  $("run").replaceChildren(...state.runs.map((run) => new Option(run.name, run.name)));
  $("run").addEventListener("change", () => chooseRun($("run").value));
  chooseRun(state.runs[0].name);
  drawAll();
  document.body.dataset.ready = "true";
}
function chooseRun(name) {
  state.run = state.runs.find((run) => run.name === name);
  const accuracy = state.run.test_accuracy == null ? null : (100 * state.run.test_accuracy).toFixed(2);
  const drawn = state.run.drawn_accuracy == null ? null : (100 * state.run.drawn_accuracy).toFixed(1);
  $("run-info").textContent = TEXT.runInfo(state.run.preset || "run", state.run.kind, accuracy, drawn);
  setCoding(state.run.coding);
  resend();
}
start().catch((error) => showMessage(TEXT.cannotLoad(error)));
