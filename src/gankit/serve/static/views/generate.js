// Generate: samples from a seed (n, truncation psi, class); clicking an image pins it. Points runs: a scatter.

import { drawPoints } from "../scatter.js";

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
    if (points) drawPoints(result, answer.points, el, run.modes);
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
