// Upscale: an uploaded image through the run's super-resolution model, compared with the input scaled up by
// the browser (nearest or smooth) under a draggable divider.

const MIN_SIDE = 384, MAX_WIDTH = 720; // the comparison's displayed width

export function mount(container, run, api) {
  const { el, field } = api;
  const file = el("input", { type: "file", accept: "image/*" });
  const smooth = api.selectInput([["pixelated", "nearest"], ["auto", "smooth (browser)"]], "pixelated");
  const go = el("button", { type: "submit", class: "primary" }, "Upscale");
  const before = el("img", { class: "before", alt: "input, scaled by the browser" });
  const after = el("img", { class: "after", alt: "model output" });
  const divider = el("div", { class: "divider" }, el("span", { class: "handle" }));
  const beforeLabel = el("span", { class: "tag left" }, "input");
  const compare = el("div", { class: "compare" }, before, after, divider, beforeLabel,
    el("span", { class: "tag right" }, `model ×${run.scale ?? "?"}`));
  const position = el("input", { type: "range", min: "0", max: "100", value: "50", class: "wide",
    "aria-label": "divider position" });
  const sizes = el("p", { class: "hint" });
  const download = el("a", { class: "button", download: `${run.id}-upscaled.png` }, "Download");
  const shown = el("div", { hidden: true }, compare, position, el("div", { class: "controls" }, sizes, download));

  container.append(
    el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); upscale(); } },
      field("image", file), field("input shown as", smooth), go),
    el("p", { class: "hint" }, `Drag the divider: left of it the input scaled up by the browser, right of it ` +
      `the model's ×${run.scale ?? "?"} output.`),
    shown);

  const setSplit = (percent) => {
    const p = Math.max(0, Math.min(100, percent));
    position.value = String(p);
    after.style.clipPath = `inset(0 0 0 ${p}%)`;
    divider.style.left = `${p}%`;
  };
  const fromPointer = (e) => {
    const box = compare.getBoundingClientRect();
    setSplit(((e.clientX - box.left) / box.width) * 100);
  };
  compare.addEventListener("pointerdown", (e) => { compare.setPointerCapture(e.pointerId); fromPointer(e); });
  compare.addEventListener("pointermove", (e) => { if (compare.hasPointerCapture(e.pointerId)) fromPointer(e); });
  position.addEventListener("input", () => setSplit(Number(position.value)));
  smooth.addEventListener("change", () => {
    before.style.imageRendering = smooth.value;
    beforeLabel.textContent = `input (${smooth.selectedOptions[0].textContent})`;
  });
  file.addEventListener("change", () => { if (file.files.length) upscale(); });
  smooth.dispatchEvent(new Event("change"));
  setSplit(50);

  async function upscale() {
    if (!file.files.length) return api.showError("choose an image file first");
    const form = new FormData();
    form.append("image", file.files[0]);
    const blob = await api.action(go, () => api.postForm(api.url(run, "upscale"), form, "blob"));
    if (!blob) return;
    api.showBlob(before, file.files[0]);
    api.showBlob(after, blob);
    api.showBlob(download, blob);
    await Promise.all([before.decode(), after.decode()]).catch(() => {});
    layout();
    shown.hidden = false;
  }

  // The box at the output's size: whole multiples when small, shrunk to MAX_WIDTH when large.
  function layout() {
    const w = after.naturalWidth, h = after.naturalHeight;
    const k = w < MIN_SIDE ? Math.floor(MIN_SIDE / w) || 1 : Math.min(1, MAX_WIDTH / w);
    compare.style.width = `${Math.round(w * k)}px`;
    compare.style.height = `${Math.round(h * k)}px`;
    after.style.imageRendering = k > 1 ? "pixelated" : "auto";
    position.style.width = compare.style.width;
    sizes.textContent = `${before.naturalWidth}×${before.naturalHeight} → ${w}×${h}` +
      (k !== 1 ? ` (shown at ${Math.round(w * k)}×${Math.round(h * k)})` : "");
  }
}
