// Predict: the frames after a clip, as a GIF: an uploaded GIF (context, then the prediction), or a test
// sequence of the run's own data (truth | prediction side by side; needs the run's data on the server).

export function mount(container, run, api) {
  const { el, field } = api;
  const file = el("input", { type: "file", accept: "image/gif,image/*" });
  const frames = api.numberInput(run.frames_out || 10, 1, api.limits.max_frames || 64);
  const index = api.numberInput(0, 0, api.limits.max_test_index ?? 99);
  const go = el("button", { type: "submit", class: "primary" }, "Predict");
  const test = el("button", { type: "button", onclick: () => predict(true) }, "Predict test sequence");
  const input = el("img", { class: "pixel pair", alt: "the uploaded clip" });
  const output = el("img", { class: "pixel pair", alt: "context and prediction" });
  const inputFigure = el("figure", {}, input, el("figcaption", {}, "uploaded clip"));
  const caption = el("figcaption", {});
  const download = el("a", { class: "button", download: `${run.id}-prediction.gif`, hidden: true }, "Download GIF");
  const pair = el("div", { class: "pair-row", hidden: true }, inputFigure, el("figure", {}, output, caption));

  container.append(
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); predict(false); } },
      field("clip (GIF)", file), field("frames to predict", frames), go, field("test sequence", index), test),
    el("p", { class: "hint" }, `Upload a GIF of at least ${run.frames_in ?? "a few"} frames; it is resized to ` +
      `${run.shape.slice(-2).join("×")}. The model was trained to predict ${run.frames_out ?? "?"} frames. ` +
      "Or pick a test sequence of the run's own data: truth on the left, prediction on the right."),
    pair, download);

  file.addEventListener("change", () => { if (file.files.length) predict(false); });

  async function predict(fromTest) {
    const form = new FormData();
    form.append("frames", frames.value);
    if (fromTest) {
      form.append("test_index", index.value);
    } else {
      if (!file.files.length) return api.showError("choose a GIF clip first");
      form.append("clip", file.files[0]);
      api.showBlob(input, file.files[0]);
    }
    const blob = await api.action(fromTest ? test : go, () => api.postForm(api.url(run, "predict"), form, "blob"));
    if (!blob) return;
    inputFigure.hidden = fromTest;
    caption.textContent = fromTest ? `test sequence ${index.value}: truth | prediction (after ${run.frames_in} ` +
      "context frames)" : `last ${run.frames_in ?? ""} frames, then the prediction`;
    api.showBlob(output, blob);
    api.showBlob(download, blob);
    pair.hidden = download.hidden = false;
  }
}
