// Text: images of a typed prompt (text-to-image runs).

export function mount(container, run, api) {
  const { el, field } = api;
  const prompt = el("input", { type: "text", class: "prompt", placeholder: "a caption like the training data's",
    required: true });
  const n = api.numberInput(8, 1, api.limits.max_n || 64);
  const seed = api.numberInput(0, 0, 2 ** 31 - 1);
  const random = el("button", { type: "button", onclick: () => { seed.value = api.randomSeed(); draw(); } }, "random");
  const go = el("button", { type: "submit", class: "primary" }, "Draw");
  const result = el("div", { class: "result" });

  container.append(
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); draw(); } },
      field("prompt", prompt), field("images", n), field("seed", el("span", { class: "joined" }, seed, random)), go),
    result);

  async function draw() {
    const answer = await api.action(go, () => api.postJSON(api.url(run, "text"),
      { prompt: prompt.value, n: api.num(n), seed: api.num(seed) }));
    if (!answer) return;
    result.replaceChildren(el("p", { class: "hint" }, `“${prompt.value}”`), el("div", { class: "grid" },
      answer.images.map((src, i) => el("div", { class: "tile" },
        el("img", { src, class: "pixel", alt: `image ${i + 1}` })))));
  }
}
