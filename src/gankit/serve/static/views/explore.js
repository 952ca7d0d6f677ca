// Explore: move a sample along the run's principal latent directions (GANSpace) with one slider each.
// The sample is the pin selected in the tray, else the first of a few samples drawn here. At most one request
// is in flight; moves made meanwhile are sent as one (the latest state) when the answer arrives.

const RANGE = 3; // sliders span -RANGE..RANGE sigmas

export function mount(container, run, api) {
  const { el, field } = api;
  const seed = api.numberInput(1, 0, 2 ** 31 - 1);
  const draw = el("button", { type: "submit" }, "Draw samples");
  const drawn = el("div", { class: "grid small" });
  const cls = run.classes.length ? api.selectInput(run.classes.map((c, i) => [i, c]), 0) : null;
  const big = el("img", { class: "pixel big", alt: "the moved sample" });
  const original = el("img", { class: "pixel thumb", alt: "the sample" });
  const sliders = el("div", { class: "sliders" }, el("p", { class: "muted" }, "computing the directions…"));
  const reset = el("button", { type: "button", onclick: resetSliders }, "Reset sliders");
  let inputs = [];
  let samples = [];
  let source = null;
  let busy = false, again = false;

  container.append(el("div", { class: "explore" },
    el("div", { class: "panel" },
      el("h3", {}, "Sample"),
      el("p", { class: "hint" }, "The pin selected in the tray above, or click one drawn here (it is pinned)."),
      el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); drawSamples(); } },
        field("seed", seed), draw),
      drawn,
      cls && el("div", { class: "controls" }, field("class", cls))),
    el("div", { class: "panel stage" },
      el("div", { class: "stage-images" }, el("figure", {}, big, el("figcaption", {}, "moved")),
        el("figure", {}, original, el("figcaption", {}, "start"))),
      el("div", {}, el("div", { class: "slider-head" }, el("h3", {}, "Directions"), reset), sliders))));

  cls?.addEventListener("change", update);

  // The latent to move: the selected pin, or the first drawn sample.
  function pickSource() {
    const next = api.pins.selected(run.id) || samples[0] || null;
    if (next === source) return;
    source = next;
    markSource();
    if (!source) return;
    original.src = source.image;
    if (cls && source.class !== null && source.class !== undefined) cls.value = String(source.class);
    update();
  }

  function markSource() {
    for (const tile of drawn.children) tile.classList.toggle("current", tile.dataset.image === source?.image);
  }

  async function drawSamples() {
    const answer = await api.action(draw, () =>
      api.postJSON(api.url(run, "generate"), { n: 6, seed: api.num(seed), psi: null, class: null }));
    if (!answer) return;
    samples = answer.images.map((image, i) => ({ image, latent: answer.latents[i],
      class: answer.classes ? answer.classes[i] : null }));
    drawn.replaceChildren(...samples.map((s, i) => el("button", { type: "button", class: "tile",
      title: "pin and explore", "data-image": s.image, onclick: () => api.pins.add(run.id, s) },
    el("img", { src: s.image, alt: `sample ${i + 1}`, class: "pixel" }))));
    pickSource();
    markSource();
  }

  async function loadDirections() {
    const answer = await api.getJSON(api.url(run, "directions")).catch(() => null);
    if (!answer) {
      sliders.replaceChildren(el("p", { class: "muted" }, "no directions (see the error above)"));
      return;
    }
    inputs = answer.explained.map(() => el("input", { type: "range", min: String(-RANGE), max: String(RANGE),
      step: "0.1", value: "0", oninput: update }));
    sliders.replaceChildren(...inputs.map((input, i) => {
      const shown = el("output", { class: "value" }, "0.0σ");
      input.addEventListener("input", () => { shown.textContent = `${Number(input.value).toFixed(1)}σ`; });
      return el("label", { class: "slider" },
        el("span", {}, `PC${i + 1}`, el("small", {}, ` ${(answer.explained[i] * 100).toFixed(1)}%`)), input, shown);
    }));
    if (source) update(); else pickSource();
  }

  function resetSliders() {
    for (const input of inputs) {
      input.value = "0";
      input.dispatchEvent(new Event("input")); // relabels it; update() merges the requests
    }
  }

  function update() {
    if (!source) return;
    if (busy) { again = true; return; }
    busy = true;
    const body = { latent: source.latent, offsets: inputs.map((i) => Number(i.value)),
      class: cls ? Number(cls.value) : null };
    api.postJSON(api.url(run, "explore"), body, "blob")
      .then((blob) => api.showBlob(big, blob))
      .catch(() => {}) // shown in the error bar
      .finally(() => {
        busy = false;
        if (again) { again = false; update(); }
      });
  }

  api.pins.onChange((runId) => { if (runId === run.id) pickSource(); });
  // one after the other: the server's direction search must not overlap another request on this model
  loadDirections().then(drawSamples);
}
