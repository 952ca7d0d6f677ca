// Interpolate: a path between two pinned samples, two classes (conditional runs) or two prompts (text runs),
// shown as a strip of frames and as an animated GIF with a download link.

export function mount(container, run, api) {
  const { el, field } = api;
  const steps = api.numberInput(8, 2, api.limits.max_steps || 32);
  const go = el("button", { type: "submit", class: "primary" }, "Interpolate");
  const strip = el("div", { class: "strip" });
  const gif = el("img", { class: "pixel gif", alt: "the path as an animation", hidden: true });
  const download = el("a", { class: "button", download: `${run.id}-interpolation.gif`, hidden: true },
    "Download GIF");
  const endpoints = run.family === "text" ? promptEnds(api) : latentEnds(run, api);

  container.append(
    el("form", { class: "panel", onsubmit: (e) => { e.preventDefault(); interpolate(); } },
      el("h3", {}, "From A to B"),
      endpoints.node,
      el("div", { class: "controls" }, field("frames", steps), go)),
    el("div", { class: "panel" }, el("h3", {}, "Frames"), strip,
      el("div", { class: "gif-row" }, gif, download)));

  async function interpolate() {
    await api.action(go, async () => {
      const body = { ...endpoints.body(), steps: api.num(steps) };
      const frames = await api.postJSON(api.url(run, "interpolate"), { ...body, format: "json" });
      strip.replaceChildren(...frames.frames.map((src, i) =>
        el("img", { src, class: "pixel frame", alt: `frame ${i + 1}`, title: `frame ${i + 1}` })));
      const blob = await api.postJSON(api.url(run, "interpolate"), { ...body, format: "gif" }, "blob");
      api.showBlob(gif, blob);
      api.showBlob(download, blob);
      gif.hidden = download.hidden = false;
    });
  }
}

// Two prompts (text runs).
function promptEnds(api) {
  const { el, field } = api;
  const a = el("input", { type: "text", class: "prompt", placeholder: "prompt A" });
  const b = el("input", { type: "text", class: "prompt", placeholder: "prompt B" });
  const seed = api.numberInput(0, 0, 2 ** 31 - 1);
  return { node: el("div", { class: "controls" }, field("A", a), field("B", b), field("seed", seed)),
    body: () => ({ prompt_a: a.value, prompt_b: b.value, seed: api.num(seed) }) };
}

// Two pinned samples, or (conditional runs) two classes under one seed's noise.
function latentEnds(run, api) {
  const { el, field } = api;
  const byClass = el("input", { type: "checkbox" });
  const classA = api.selectInput(run.classes.map((c, i) => [i, c]), 0);
  const classB = api.selectInput(run.classes.map((c, i) => [i, c]), Math.min(1, run.classes.length - 1));
  const seed = api.numberInput(0, 0, 2 ** 31 - 1);
  const mode = api.selectInput([["linear", "linear"], ["slerp", "slerp (spherical)"]], "linear");
  const pinA = el("select"), pinB = el("select");
  const thumbA = el("img", { class: "pixel thumb", alt: "A" }), thumbB = el("img", { class: "pixel thumb", alt: "B" });
  const pinRandom = el("button", { type: "button", onclick: pinTwo }, "Pin two random samples");
  const noPins = el("span", { class: "muted check" }, "No pinned samples yet:");
  const chosen = el("span", { class: "controls" }, field("A", pinA), thumbA, field("B", pinB), thumbB,
    field("path", mode));
  const pinsRow = el("div", { class: "controls" }, noPins, chosen, pinRandom);
  const classRow = el("div", { class: "controls", hidden: true }, field("class A", classA), field("class B", classB),
    field("noise seed", seed));
  let known = -1; // the pin count the selects were filled for

  // The pins as options; when the pins change, A and B become the two newest.
  function fill() {
    const list = api.pins.list(run.id);
    const fresh = list.length !== known;
    known = list.length;
    for (const [select, back] of [[pinA, 2], [pinB, 1]]) {
      const keep = select.value;
      select.replaceChildren(...list.map((p, i) => el("option", { value: String(i) },
        `pin ${i + 1}${api.className(run, p.class) ? ` (${api.className(run, p.class)})` : ""}`)));
      select.value = fresh || keep === "" ? String(Math.max(0, list.length - back)) : keep;
    }
    thumbA.src = list[Number(pinA.value)]?.image || "";
    thumbB.src = list[Number(pinB.value)]?.image || "";
    chosen.hidden = list.length === 0;
    noPins.hidden = list.length > 0;
    pinRandom.hidden = list.length >= 2;
  }

  async function pinTwo() {
    const answer = await api.action(pinRandom, () => api.postJSON(api.url(run, "generate"),
      { n: 2, seed: api.randomSeed(), psi: null, class: null }));
    answer?.images.forEach((image, i) => api.pins.add(run.id,
      { image, latent: answer.latents[i], class: answer.classes ? answer.classes[i] : null }));
  }

  pinA.addEventListener("change", fill);
  pinB.addEventListener("change", fill);
  byClass.addEventListener("change", () => { classRow.hidden = !byClass.checked; pinsRow.hidden = byClass.checked; });
  api.pins.onChange((runId) => { if (runId === run.id) fill(); });
  fill();

  function body() {
    if (byClass.checked) return { class_a: Number(classA.value), class_b: Number(classB.value), seed: api.num(seed) };
    const list = api.pins.list(run.id);
    const a = list[Number(pinA.value)], b = list[Number(pinB.value)];
    if (!a || !b) throw new Error("pin two samples first (in Generate, or with 'Pin two random samples')");
    return { a: a.latent, b: b.latent, class: a.class ?? null, mode: mode.value };
  }

  const node = el("div", {}, run.classes.length ?
    el("label", { class: "check" }, byClass, " between two classes (one seed's noise)") : null, pinsRow, classRow);
  return { node, body };
}
