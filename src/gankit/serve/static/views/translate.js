// Translate: an uploaded image through the run's translator, input and output side by side.

export function mount(container, run, api) {
  const { el, field } = api;
  const file = el("input", { type: "file", accept: "image/*" });
  const directions = run.directions || [];
  const direction = directions.length > 1 ? api.selectInput(directions.map((d) => [d, d]), directions[0]) : null;
  const go = el("button", { type: "submit", class: "primary" }, "Translate");
  const input = el("img", { class: "pixel pair", alt: "input" });
  const output = el("img", { class: "pixel pair", alt: "output" });
  const download = el("a", { class: "button", download: `${run.id}-translated.png`, hidden: true }, "Download");
  const pair = el("div", { class: "pair-row", hidden: true },
    el("figure", {}, input, el("figcaption", {}, "input")),
    el("figure", {}, output, el("figcaption", {}, "output")));

  container.append(
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); translate(); } },
      field("image", file), direction && field("direction", direction), go),
    el("p", { class: "hint" }, `The model works on ${run.shape.slice(-2).join("×")} images` +
      (directions.length ? ` (${directions.join(", ")}).` : ".")),
    pair, download);

  file.addEventListener("change", () => { if (file.files.length) translate(); });

  async function translate() {
    if (!file.files.length) return api.showError("choose an image file first");
    const form = new FormData();
    form.append("image", file.files[0]);
    if (direction) form.append("direction", direction.value);
    api.showBlob(input, file.files[0]);
    const blob = await api.action(go, () => api.postForm(api.url(run, "translate"), form, "blob"));
    if (!blob) return;
    api.showBlob(output, blob);
    api.showBlob(download, blob);
    pair.hidden = download.hidden = false;
  }
}
