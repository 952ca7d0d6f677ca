// Training: the run's logged curves (one small canvas chart per picked key), its latest sample grid and its
// alarms; polled every 5 s while this tab and the browser tab are visible, new records fetched with ?offset=.

import { drawPoints } from "../scatter.js";

const POLL_MS = 5000;
const LIVE_POINTS = 1000; // points runs: samples of the newest checkpoint, drawn over the data's modes
const SAMPLE_SIDE = 400;
const W = 300, H = 160, PAD = { left: 52, right: 12, top: 24, bottom: 22 };
const COLOURS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

export function mount(container, run, api) {
  const { el } = api;
  const records = [];
  const picked = new Set();
  let keys = [];
  let lastStep = -1;
  let next = 0; // records already read: the next poll asks for the ones after them (?offset=)
  let polling = false;

  const status = el("span", { class: "status muted" }, "loading…");
  const picker = el("div", { class: "chips" });
  const charts = el("div", { class: "charts" });
  const sample = el("img", { class: "sample-grid", alt: "the latest sample grid", hidden: true });
  const noSample = el("p", { class: "muted" }, "no sample grid yet");
  const alarms = el("ul", { class: "alarms" });
  const scatter = el("div", { class: "live-scatter" }); // points runs (GAN Lab's view, on the real run)

  container.append(
    el("div", { class: "panel" },
      el("div", { class: "slider-head" }, el("h3", {}, "Curves"), status), picker, charts),
    el("div", { class: "columns" },
      el("div", { class: "panel" }, el("h3", {}, "Latest samples"), sample, noSample, scatter),
      el("div", { class: "panel" }, el("h3", {}, "Alarms"), alarms)));

  sample.addEventListener("load", () => { sample.hidden = false; noSample.hidden = true; sizeSample(sample); });
  sample.addEventListener("error", () => { sample.hidden = true; noSample.hidden = false; });

  async function poll() {
    if (polling || container.hidden || document.hidden) return;
    polling = true;
    try {
      const answer = await api.getJSON(`${api.url(run, "metrics")}?offset=${next}`);
      next = answer.next;
      if (answer.records.length || !records.length) absorb(answer.records);
      showAlarms(answer.alarms);
      const step = lastStep < 0 ? "–" : lastStep.toLocaleString();
      status.textContent = `${records.length} record${records.length === 1 ? "" : "s"} · step ${step} · ` +
        `updated ${new Date().toLocaleTimeString()}`;
    } catch (_) {
      status.textContent = "not updated (see the error above)";
    } finally {
      polling = false;
    }
  }

  function absorb(fresh) {
    records.push(...fresh);
    lastStep = fresh.reduce((m, r) => Math.max(m, r.step), lastStep);
    const found = new Set(records.flatMap((r) => Object.keys(r).filter((k) => k !== "step" &&
      typeof r[k] === "number")));
    if (found.size !== keys.length) {
      const added = [...found].filter((k) => !keys.includes(k));
      keys = [...found].sort(byKind);
      added.filter(shownAtFirst).forEach((k) => picked.add(k));
      if (!picked.size) keys.slice(0, 4).forEach((k) => picked.add(k));
      showPicker();
    }
    drawCharts();
    if (run.family === "points") {
      liveScatter();
    } else {
      sample.src = `${api.url(run, "sample.png")}?step=${lastStep}&t=${Date.now()}`;
    }
  }

  async function liveScatter() {
    noSample.hidden = true;
    const answer = await api.postJSON(api.url(run, "generate"), { n: LIVE_POINTS, seed: 0 });
    drawPoints(scatter, answer.points, el, run.modes || []);
  }

  function showPicker() {
    picker.replaceChildren(...keys.map((key) => {
      const box = el("input", { type: "checkbox", checked: picked.has(key), onchange: () => {
        if (box.checked) picked.add(key); else picked.delete(key);
        drawCharts();
      } });
      return el("label", { class: "chip" }, box, key);
    }));
  }

  function drawCharts() {
    charts.replaceChildren(...keys.filter((k) => picked.has(k)).map((key) => {
      const series = records.filter((r) => Number.isFinite(r[key])).map((r) => [r.step, r[key]]);
      return chart(el, key, series, colourOf(key));
    }));
    if (!charts.children.length) charts.append(el("p", { class: "muted" }, "no curves logged yet (or none picked)"));
  }

  function showAlarms(list) {
    alarms.replaceChildren(...(list.length ? list.slice().reverse().map((a) => el("li", {},
      el("strong", {}, a.alarm || "alarm"), ` at step ${a.step ?? "?"}`,
      a.measured && el("div", {}, a.measured), a.cure && el("div", { class: "muted" }, `cure: ${a.cure}`))) :
      [el("li", { class: "muted" }, "no alarms")]));
  }

  poll();
  setInterval(poll, POLL_MS);
}

// Small grids scaled up by a whole factor (pixelated) to about SAMPLE_SIDE px; large ones as they are.
function sizeSample(img) {
  const k = Math.max(1, Math.floor(SAMPLE_SIDE / img.naturalWidth));
  img.style.width = `${img.naturalWidth * k}px`;
  img.classList.toggle("pixel", k > 1);
}

// A colour per key name, the same whatever other keys appear.
function colourOf(key) {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return COLOURS[h % COLOURS.length];
}

// loss_* first, then eval/*, then the rest, alphabetically within each.
function byKind(a, b) {
  const rank = (k) => (k.startsWith("loss") ? 0 : k.startsWith("eval/") ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b);
}

// Charted as soon as they appear: loss_d, loss_g and the eval/ keys (else the first few keys of the run).
function shownAtFirst(key) {
  return key === "loss_d" || key === "loss_g" || key.startsWith("eval/");
}

// One curve on its own canvas: the key and last value on top, value and step ranges on the axes.
function chart(el, key, series, colour) {
  const canvas = el("canvas", { width: W * devicePixelRatio, height: H * devicePixelRatio, class: "chart",
    "data-key": key });
  canvas.style.width = `${W}px`;
  canvas.style.height = `${H}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(devicePixelRatio, devicePixelRatio);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#1d2330";
  ctx.fillText(key, PAD.left, 14);
  if (!series.length) return canvas;
  const last = series[series.length - 1][1];
  ctx.textAlign = "right";
  ctx.fillText(format(last), W - PAD.right, 14);

  const xs = series.map((p) => p[0]), ys = series.map((p) => p[1]);
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const px = (x) => PAD.left + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);

  ctx.strokeStyle = "#e3e6eb";
  ctx.strokeRect(PAD.left, PAD.top, W - PAD.left - PAD.right, H - PAD.top - PAD.bottom);
  ctx.fillStyle = "#6b7385";
  ctx.fillText(format(y1), PAD.left - 4, PAD.top + 8);
  ctx.fillText(format(y0), PAD.left - 4, H - PAD.bottom);
  ctx.fillText(x1.toLocaleString(), W - PAD.right, H - 6);
  ctx.textAlign = "left";
  ctx.fillText(x0.toLocaleString(), PAD.left, H - 6);

  ctx.strokeStyle = ctx.fillStyle = colour;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  series.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
  ctx.stroke();
  if (series.length < 40) {
    for (const [x, y] of series) {
      ctx.beginPath();
      ctx.arc(px(x), py(y), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  return canvas;
}

function format(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  const s = v.toPrecision(4);
  return s.includes(".") && !s.includes("e") ? s.replace(/\.?0+$/, "") : s;
}
