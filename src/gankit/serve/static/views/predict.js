// Predict: the frames after an uploaded clip (a GIF); the answer is a GIF of the context then the prediction.

export function mount(container, run, api) {
  const { el, field } = api;
  const file = el("input", { type: "file", accept: "image/gif,image/*" });
  const frames = api.numberInput(run.frames_out || 10, 1, api.limits.max_frames || 64);
  const go = el("button", { type: "submit", class: "primary" }, "Predict");
  const input = el("img", { class: "pixel pair", alt: "the uploaded clip" });
  const output = el("img", { class: "pixel pair", alt: "context and prediction" });
  const download = el("a", { class: "button", download: `${run.id}-prediction.gif`, hidden: true }, "Download GIF");
  const pair = el("div", { class: "pair-row", hidden: true },
    el("figure", {}, input, el("figcaption", {}, "uploaded clip")),
    el("figure", {}, output, el("figcaption", {}, `last ${run.frames_in ?? ""} frames, then the prediction`)));

  container.append(
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); predict(); } },
      field("clip (GIF)", file), field("frames to predict", frames), go),
    el("p", { class: "hint" }, `Upload a GIF of at least ${run.frames_in ?? "a few"} frames; it is resized to ` +
      `${run.shape.slice(-2).join("×")}. The model was trained to predict ${run.frames_out ?? "?"} frames.`),
    pair, download);

  file.addEventListener("change", () => { if (file.files.length) predict(); });

  async function predict() {
    if (!file.files.length) return api.showError("choose a GIF clip first");
    const form = new FormData();
    form.append("clip", file.files[0]);
    form.append("frames", frames.value);
    api.showBlob(input, file.files[0]);
    const blob = await api.action(go, () => api.postForm(api.url(run, "predict"), form, "blob"));
    if (!blob) return;
    api.showBlob(output, blob);
    api.showBlob(download, blob);
    pair.hidden = download.hidden = false;
  }
}
