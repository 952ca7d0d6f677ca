// Generate: samples from a seed (n, truncation psi, class); clicking an image pins it. Points runs: a scatter.

export function mount(container, run, api) {
  const { el, field, num } = api;
  const points = run.family === "points";
  const maxN = (api.limits.max_n || 64) * (points ? 100 : 1);
  const seed = api.numberInput(0, 0, 2 ** 31 - 1);
  const n = api.numberInput(points ? 1000 : 16, 1, maxN);
  const psiOn = el("input", { type: "checkbox", title: "truncation: redraw noise values beyond ±psi" });
  const psi = el("input", { type: "range", min: "0.1", max: "2", step: "0.05", value: "0.7", disabled: true });
  const psiShown = el("output", { class: "value" }, "off");
  const cls = run.classes.length ?
    api.selectInput([["", "all classes (cycle)"], ...run.classes.map((c, i) => [i, c])], "") : null;
  const go = el("button", { type: "submit", class: "primary" }, "Generate");
  const result = el("div", { class: "result" });
  let last = null; // the last answer, to redraw the pinned marks

  const showPsi = () => {
    psi.disabled = !psiOn.checked;
    psiShown.textContent = psiOn.checked ? Number(psi.value).toFixed(2) : "off";
  };
  psiOn.addEventListener("change", showPsi);
  psi.addEventListener("input", showPsi);
  const random = el("button", { type: "button", onclick: () => { seed.value = api.randomSeed(); generate(); } },
    "random");

  container.append(
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); generate(); } },
      field("seed", el("span", { class: "joined" }, seed, random)),
      field(points ? "points" : "images", n),
      field("truncation ψ", el("span", { class: "joined" }, psiOn, psi, psiShown)),
      cls && field("class", cls),
      go),
    el("p", { class: "hint" }, points ? "Each point is one sample of the generator." :
      "The same seed gives the same samples. Click an image to pin it for Explore and Interpolate."),
    result);

  async function generate() {
    const body = { n: num(n), seed: num(seed), psi: psiOn.checked ? num(psi) : null,
      class: cls && cls.value !== "" ? Number(cls.value) : null };
    const answer = await api.action(go, () => api.postJSON(api.url(run, "generate"), body));
    if (!answer) return;
    last = answer;
    if (points) drawPoints(result, answer.points, el);
    else showImages();
  }

  function showImages() {
    const tiles = last.images.map((image, i) => {
      const klass = last.classes ? last.classes[i] : null;
      const pinned = api.pins.has(run.id, image);
      return el("button", { type: "button", class: pinned ? "tile pinned" : "tile",
        title: pinned ? "pinned" : "click to pin",
        onclick: () => api.pins.add(run.id, { image, latent: last.latents[i], class: klass }) },
      el("img", { src: image, alt: `sample ${i + 1}`, class: "pixel" }),
      el("span", { class: "caption" }, api.className(run, klass) || `#${i + 1}`));
    });
    result.replaceChildren(el("div", { class: "grid" }, tiles));
  }

  api.pins.onChange((runId) => { if (runId === run.id && last && !points) showImages(); });
  generate();
}

// A scatter of 2-D points on a canvas, the axes symmetric around 0.
function drawPoints(result, points, el) {
  const size = 440, pad = 28;
  const canvas = el("canvas", { class: "scatter", width: size * devicePixelRatio, height: size * devicePixelRatio });
  canvas.style.width = canvas.style.height = `${size}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(devicePixelRatio, devicePixelRatio);
  const extent = Math.max(1e-6, ...points.flat().filter(Number.isFinite).map(Math.abs)) * 1.05;
  const at = (v) => pad + ((v + extent) / (2 * extent)) * (size - 2 * pad);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  ctx.strokeStyle = "#d8dce3";
  ctx.beginPath();
  ctx.moveTo(at(0), pad); ctx.lineTo(at(0), size - pad);
  ctx.moveTo(pad, at(0)); ctx.lineTo(size - pad, at(0));
  ctx.stroke();
  ctx.fillStyle = "#5b6475";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(`±${extent.toPrecision(3)}`, size - pad - 40, pad - 8);
  ctx.fillStyle = "rgba(37, 99, 235, 0.45)";
  for (const [x, y] of points) {
    ctx.beginPath();
    ctx.arc(at(x), at(-y), 2, 0, 2 * Math.PI);
    ctx.fill();
  }
  result.replaceChildren(canvas);
}
