// The page of `gankit serve`: the run picker, the tabs of the selected run's views, the error bar and the
// pinned tray. Each view is an ES module /static/views/<view>.js exporting mount(container, run, api). A view
// mounts once per run and stays (hidden while another tab shows), so its state survives a tab switch; a view
// that polls checks container.hidden. The selection lives in the URL: #/<run id>/<view>.

const $ = (id) => document.getElementById(id);
const MAX_PINS = 8;
const PIN_VIEWS = new Set(["generate", "explore", "interpolate", "sketch"]); // the tabs that show the tray
const LABELS = {
  generate: "Generate", explore: "Explore", interpolate: "Interpolate", sketch: "Sketch", text: "Text",
  translate: "Translate", upscale: "Upscale", predict: "Predict", training: "Training",
};

// ------------------------------------------------------------------ the error bar

export function showError(message) {
  $("error-text").textContent = String(message || "something went wrong").split("\n")[0];
  $("error").hidden = false;
}

export function clearError() {
  $("error").hidden = true;
}

// ------------------------------------------------------------------ HTTP helpers

let inFlight = 0;

function setBusy(delta) {
  inFlight += delta;
  $("busy").hidden = inFlight === 0;
}

// The one line an API error carries: {"detail": "..."}, or FastAPI's validation list, or the status text.
async function errorLine(res) {
  const text = await res.text();
  try {
    const detail = JSON.parse(text).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail) && detail.length) {
      const d = detail[0];
      const where = (d.loc || []).filter((p) => p !== "body").join(".");
      return `${where ? where + ": " : ""}${d.msg}`;
    }
  } catch (_) { /* not JSON */ }
  const body = text && text !== res.statusText ? `: ${text.slice(0, 200)}` : "";
  return `HTTP ${res.status} ${res.statusText}${body}${res.status >= 500 ? " (see the server's log)" : ""}`;
}

function failure(message) {
  showError(message);
  const err = new Error(message);
  err.shown = true;
  return err;
}

// fetch, the answer as JSON or a Blob; any failure is shown in the error bar and rethrown.
async function request(url, init = {}, as = "json") {
  setBusy(1);
  try {
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      throw failure(`cannot reach the server (${err.message})`);
    }
    if (!res.ok) throw failure(await errorLine(res));
    return as === "blob" ? await res.blob() : await res.json();
  } finally {
    setBusy(-1);
  }
}

const getJSON = (url) => request(url);
const postJSON = (url, body, as = "json") =>
  request(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }, as);
const postForm = (url, form, as = "json") => request(url, { method: "POST", body: form }, as);

// Run a user action: the button disabled meanwhile, the last error cleared first; errors end here (shown).
async function action(button, fn) {
  clearError();
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (err) {
    if (!err.shown) showError(err.message);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ------------------------------------------------------------------ pinned samples (shared by the views)

// Per run: up to MAX_PINS pins {image (data URL), latent, class}, and the selected one (Explore's default).
export const pins = {
  byRun: new Map(),
  chosen: new Map(),
  listeners: new Set(),
  list(runId) {
    return this.byRun.get(runId) || [];
  },
  add(runId, pin) {
    const list = this.list(runId).filter((p) => p.image !== pin.image);
    list.push(pin);
    this.byRun.set(runId, list.slice(-MAX_PINS));
    this.chosen.set(runId, pin);
    this.changed(runId);
    return pin;
  },
  remove(runId, pin) {
    this.byRun.set(runId, this.list(runId).filter((p) => p !== pin));
    if (this.chosen.get(runId) === pin) this.chosen.delete(runId);
    this.changed(runId);
  },
  select(runId, pin) {
    this.chosen.set(runId, pin);
    this.changed(runId);
  },
  selected(runId) {
    return this.chosen.get(runId) || null;
  },
  has(runId, image) {
    return this.list(runId).some((p) => p.image === image);
  },
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  },
  changed(runId) {
    for (const fn of this.listeners) fn(runId);
  },
};

// ------------------------------------------------------------------ small DOM helper for the views

// el("div", {class: "x", onclick: fn}, child, "text", ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

// <label class="field"><span>label</span>control</label>
export function field(label, control) {
  return el("label", { class: "field" }, el("span", { class: "field-label" }, label), control);
}

export function numberInput(value, min, max, step = 1) {
  return el("input", { type: "number", value: String(value), min: String(min), max: String(max),
    step: String(step) });
}

// options: [[value, label], ...]
export function selectInput(options, value) {
  const select = el("select", {}, options.map(([v, label]) => el("option", { value: String(v) }, label)));
  if (value !== undefined) select.value = String(value);
  return select;
}

// The number in an input (NaN stays NaN: the server answers with what it expects).
export const num = (input) => (input.value.trim() === "" ? NaN : Number(input.value));

export const randomSeed = () => Math.floor(Math.random() * 2 ** 31);

// Show a Blob in an <img> (or set an <a>'s href), freeing the previous object URL of that element.
export function showBlob(node, blob) {
  const attr = node.tagName === "A" ? "href" : "src";
  if (node.dataset.blob) URL.revokeObjectURL(node.dataset.blob);
  node.dataset.blob = URL.createObjectURL(blob);
  node[attr] = node.dataset.blob;
}

// A class name of a run, or "" for an unconditional sample.
export function className(run, index) {
  return index === null || index === undefined ? "" : (run.classes[index] ?? String(index));
}

// ------------------------------------------------------------------ runs, tabs and views

const state = { runs: [], limits: {}, run: null, view: null };
const panes = new Map(); // "<run id>/<view>" -> its container

function runUrl(run, path) {
  return `/api/runs/${encodeURIComponent(run.id)}/${path}`;
}

const api = {
  getJSON, postJSON, postForm, showError, clearError, action, pins,
  el, field, numberInput, selectInput, num, randomSeed, showBlob, className,
  get limits() { return state.limits; },
  url: runUrl,
  open(view) { location.hash = `#/${encodeURIComponent(state.run.id)}/${view}`; },
};

function renderRunList() {
  const list = $("runs");
  list.replaceChildren(...state.runs.map((run) => el("li", {},
    el("a", { href: `#/${encodeURIComponent(run.id)}`, class: run === state.run ? "run current" : "run",
      "data-run": run.id },
    el("span", { class: "run-name" }, run.name),
    el("span", { class: "run-info" }, el("span", { class: `badge ${run.family}` }, run.family),
      ` step ${run.step.toLocaleString()}`)))));
}

function renderHead(run) {
  $("run-head").hidden = false;
  $("run-name").textContent = run.name;
  $("run-meta").textContent = [run.method, run.data, run.shape.join("×"),
    run.classes.length ? `${run.classes.length} classes` : null, `step ${run.step.toLocaleString()}`]
    .filter(Boolean).join(" · ");
  $("tabs").replaceChildren(...run.views.map((view) => el("a", {
    href: `#/${encodeURIComponent(run.id)}/${view}`, role: "tab", "data-view": view,
    class: view === state.view ? "tab current" : "tab", "aria-selected": String(view === state.view),
  }, LABELS[view] || view)));
}

// The tray: this run's pins; a click selects one (Explore and Interpolate use it), × removes it.
function renderPins() {
  const run = state.run;
  const show = run && run.z_dim !== undefined && run.family !== "points" && PIN_VIEWS.has(state.view);
  $("pins").hidden = !show;
  if (!show) return;
  const chosen = pins.selected(run.id);
  const items = pins.list(run.id).map((pin, i) => el("div", { class: pin === chosen ? "pin chosen" : "pin" },
    el("img", { src: pin.image, alt: `pin ${i + 1}`, title: pinTitle(run, pin, i), class: "pixel",
      onclick: () => pins.select(run.id, pin) }),
    el("button", { type: "button", class: "unpin", title: "unpin", onclick: () => pins.remove(run.id, pin) }, "×")));
  $("pin-list").replaceChildren(...(items.length ? items :
    [el("span", { class: "muted" }, "click a generated image to pin it; pins feed Explore and Interpolate")]));
}

function pinTitle(run, pin, i) {
  const cls = className(run, pin.class) ? ` (class ${className(run, pin.class)})` : "";
  return `pin ${i + 1}${cls}: click to select it for Explore`;
}

async function showView(run, view) {
  for (const node of panes.values()) node.hidden = true;
  const key = `${run.id}/${view}`;
  let node = panes.get(key);
  if (!node) {
    node = el("section", { class: `view view-${view}`, "data-view": view, "data-run": run.id });
    panes.set(key, node);
    $("views").append(node);
    try {
      const module = await import(`/static/views/${view}.js`);
      module.mount(node, run, api);
    } catch (err) {
      node.replaceChildren(el("p", { class: "muted empty" }, `The ${view} view could not be shown.`));
      showError(`the ${view} view failed: ${err.message}`);
    }
  }
  node.hidden = !(state.run === run && state.view === view);
}

// #/<run id>/<view>: select that run and view (the first run and its first view by default).
function route() {
  const [, runId, view] = location.hash.split("/").map(decodeURIComponent);
  const run = state.runs.find((r) => r.id === runId) || state.runs[0];
  if (!run) return;
  if (state.run !== run) clearError();
  state.run = run;
  state.view = run.views.includes(view) ? view : run.views[0];
  $("views").querySelector(":scope > .empty")?.remove(); // the "loading" line
  renderRunList();
  renderHead(run);
  renderPins();
  showView(run, state.view);
}

async function start() {
  $("error-close").addEventListener("click", clearError);
  window.addEventListener("unhandledrejection", (e) => {
    if (!e.reason?.shown) showError(e.reason?.message || e.reason);
  });
  window.addEventListener("error", (e) => showError(e.message));
  pins.onChange((runId) => { if (state.run?.id === runId) renderPins(); });
  try {
    const answer = await getJSON("/api/runs");
    state.runs = answer.runs;
    state.limits = answer.limits || {};
  } catch (_) {
    $("views").replaceChildren(el("p", { class: "muted empty" }, "The runs could not be listed (see above)."));
    $("runs").replaceChildren();
    return;
  }
  if (!state.runs.length) {
    $("views").replaceChildren(el("p", { class: "muted empty" }, "This server serves no runs."));
    return;
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
