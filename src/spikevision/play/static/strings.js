// Every string the play page shows, one table per language; play.js picks one (?lang=zh or ?lang=en, else the
// browser's language) and index.html's elements name theirs with data-text (their text) or data-label (aria).
// The Chinese terms are the handout's (脉冲编码, 频率编码, 延迟编码, 膜电位, 阈值, 栅格图).
"use strict";

const STRINGS = {
  en: {
    lang: "en", other: "zh", otherName: "中文",
    network: "Network", networkLabel: "network",
    drawDigit: "Draw a digit", padLabel: "drawing pad: draw a digit with a mouse, pen or finger",
    clear: "Clear", upload: "Upload a photo",
    receives: "What the network receives", receivedCaption: "28x28, as spikevision predict makes it",
    inputNow: "its input at this step",
    inputCoding: "Input coding", coding: "coding", timeSteps: "time steps", gain: "gain", tau: "tau",
    threshold: "threshold", linear: "linear", normalize: "normalize", clip: "clip",
    ownCoding: "The network's own coding",
    play: "\u25B6 play", playLabel: "play over time", timeLabel: "time step",
    inputSpikes: "Input spikes", inputSpikesNote: "(time \u2192, one row per pixel)",
    membranes: "Output membranes", membranesNote: "(the dashed line: the threshold)",
    prediction: "prediction", spikesSoFar: "Output spikes so far",
    codings: { direct: "direct", rate: "rate", latency: "latency", rows: "rows", frames: "events (DVS)" },
    step: (t, n) => `step ${t} of ${n}`, noStep: "step -",
    spikes: (n) => `${n} spike${n === 1 ? "" : "s"}`,
    topCount: (name, now, final, n, last) => `${name}: ${now}${last ? "" : ` so far, ${final} by step ${n}`}`,
    topMembrane: (name, mean, n) => `${name}: mean membrane ${mean} over all ${n} steps`,
    ownCodingNote: "The network's own coding: the prediction is what spikevision predict prints.",
    trainedWith: (coding, steps) => `The network was trained with ${coding} coding, ${steps} steps.`,
    rowsNote: "Rows coding: one row of the picture per step is the input current (no input spikes).",
    directNote: "Direct coding: the picture itself is the input current at every step (no input spikes).",
    inputSpikesAt: (t) => `its input spikes at step ${t}`,
    eventsAt: (t) => `its events in time bin ${t} (orange ON, blue OFF), as the digit moves along N-MNIST's saccades`,
    rowAt: (t) => `its input current at step ${t}: row ${t}`,
    everyStep: "its input current (every step)",
    layer: (name, units) => `Layer ${name} <small>(${units} neurons)</small>`,
    featureMaps: (name, n) => `<small>${name}'s ${n} feature maps at this step</small>`,
    thresholdLine: "threshold",
    runInfo: (preset, kind, accuracy, drawn) => `${preset} (${kind})` +
      (accuracy == null ? "" : ` test accuracy ${accuracy} %`) + (drawn == null ? "" : `, on drawn digits ${drawn} %`),
    timing: (total, server) => `${total} ms from the stroke to these pictures (network and server ${server} ms)`,
    tooBig: (name, size, limit) => `${name} is ${size} MB; the limit is ${limit} MB: use a smaller photo`,
    noAnswer: "The server did not answer: is spikevision play still running?",
    refused: (status) => `the server refused (${status})`,
    cannotLoad: (error) => `Could not load the networks: ${error}`,
    // The server's refusals come in English already: its own message is shown.
    refusals: {},
  },
  zh: {
    lang: "zh", other: "en", otherName: "English",
    network: "网络", networkLabel: "网络",
    drawDigit: "写一个数字", padLabel: "手写板：用鼠标、触控笔或手指写一个数字",
    clear: "清除", upload: "上传照片",
    receives: "网络收到的输入", receivedCaption: "28x28，与 spikevision predict 的处理相同",
    inputNow: "这一步的输入",
    inputCoding: "输入编码", coding: "编码方式", timeSteps: "时间步数", gain: "增益", tau: "时间常数 tau",
    threshold: "阈值", linear: "线性", normalize: "归一化", clip: "裁剪",
    ownCoding: "网络训练时的编码",
    play: "\u25B6 播放", playLabel: "按时间播放", timeLabel: "时间步",
    inputSpikes: "输入脉冲", inputSpikesNote: "（时间 \u2192，每个像素一行）",
    membranes: "输出神经元的膜电位", membranesNote: "（虚线：阈值）",
    prediction: "预测", spikesSoFar: "到这一步为止的输出脉冲",
    codings: { direct: "直接输入", rate: "频率编码", latency: "延迟编码", rows: "逐行输入", frames: "事件（DVS）" },
    step: (t, n) => `第 ${t} 步，共 ${n} 步`, noStep: "第 - 步",
    spikes: (n) => `${n} 个脉冲`,
    topCount: (name, now, final, n, last) => `${name}：${now}${last ? "" : `（到第 ${n} 步共 ${final} 个）`}`,
    topMembrane: (name, mean, n) => `${name}：全部 ${n} 步的平均膜电位 ${mean}`,
    ownCodingNote: "网络训练时的编码：预测结果与 spikevision predict 的输出相同。",
    trainedWith: (coding, steps) => `这个网络训练时使用${coding}，${steps} 个时间步。`,
    rowsNote: "逐行输入：每一步把图片的一行作为输入电流（没有输入脉冲）。",
    directNote: "直接输入：每一步都把图片本身作为输入电流（没有输入脉冲）。",
    inputSpikesAt: (t) => `第 ${t} 步的输入脉冲`,
    eventsAt: (t) => `第 ${t} 个时间段的事件（橙色为 ON，蓝色为 OFF），数字沿 N-MNIST 的扫视路径移动`,
    rowAt: (t) => `第 ${t} 步的输入电流：第 ${t} 行`,
    everyStep: "输入电流（每一步相同）",
    layer: (name, units) => `第 ${name} 层 <small>（${units} 个神经元）</small>`,
    featureMaps: (name, n) => `<small>${name} 层这一步的 ${n} 个特征图</small>`,
    thresholdLine: "阈值",
    runInfo: (preset, kind, accuracy, drawn) => `${preset}（${kind}）` +
      (accuracy == null ? "" : ` 测试准确率 ${accuracy} %`) + (drawn == null ? "" : `，手写数字上 ${drawn} %`),
    timing: (total, server) => `从写完到显示这些图片共 ${total} ms（网络和服务器 ${server} ms）`,
    tooBig: (name, size, limit) => `${name} 有 ${size} MB，上限是 ${limit} MB：请换一张小一些的照片`,
    noAnswer: "服务器没有应答：spikevision play 还在运行吗？",
    refused: (status) => `服务器拒绝了请求（${status}）`,
    cannotLoad: (error) => `无法加载网络：${error}`,
    // The server's refusals by their reason (server.py and preprocess.py name them), worded here.
    refusals: {
      empty: () => "这个文件是空的，不是图片",
      not_an_image: () => "无法读取这个文件：它不是图片。请上传 PNG 或 JPEG 图片",
      too_many_pixels: ({ width, height, limit }) => (width ? `图片有 ${width}x${height} 个像素，` : "图片太大，") +
        `上限是 ${limit.toLocaleString("zh-CN")} 个像素：请换一张小一些的照片`,
      not_finite: () => "图片的像素值不是有限的数，无法读取",
      blank: () => "图片是空白的：没有找到数字",
      body_too_large: ({ size, limit }) => (size == null ? "上传的文件太大，" :
        `上传的文件有 ${size.toLocaleString("zh-CN")} 字节，`) + `上限是 ${limit.toLocaleString("zh-CN")} 字节`,
      unknown_run: ({ name }) => `这个服务器上没有名为 ${name} 的网络`,
    },
  },
};

// The page's language: ?lang=en or ?lang=zh if given, else the browser's first language.
function pageLanguage() {
  const asked = new URLSearchParams(window.location.search).get("lang");
  if (asked in STRINGS) return asked;
  return (navigator.languages?.[0] || navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}
const TEXT = STRINGS[pageLanguage()];

// A refusal's JSON in the page's language: the table's wording of its reason, else the server's own message
// (in English), after the page's words for a refusal where the page is not in English.
function refusalText(body, status) {
  const wording = TEXT.refusals[body.reason];
  if (wording) return wording(body.values || {});
  if (!body.error) return TEXT.refused(status);
  return TEXT.lang === "en" ? body.error : `${TEXT.refused(status)}：${body.error}`;
}

// Put the table's strings into index.html's marked elements and set the page's language.
function applyLanguage() {
  document.documentElement.lang = TEXT.lang === "zh" ? "zh-CN" : "en";
  for (const element of document.querySelectorAll("[data-text]")) element.textContent = TEXT[element.dataset.text];
  for (const element of document.querySelectorAll("[data-label]")) {
    element.setAttribute("aria-label", TEXT[element.dataset.label]);
  }
  const other = document.getElementById("language");
  other.textContent = TEXT.otherName;
  other.href = `?lang=${TEXT.other}`;
  other.lang = TEXT.other === "zh" ? "zh-CN" : "en";
}
