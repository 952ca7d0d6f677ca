// Sketch: draw strokes on a transparent canvas; "Project" finds latents whose images match them (iGAN) and
// shows the candidates best first. Clicking a candidate pins it; "explore" pins it and opens Explore.

const SIDE = 256;
const UNDO = 20;

export function mount(container, run, api) {
  const { el, field } = api;
  const canvas = el("canvas", { class: "sketch checker", width: SIDE, height: SIDE });
  const ctx = canvas.getContext("2d");
  const colour = el("input", { type: "color", value: "#ffffff" });
  const size = el("input", { type: "range", min: "2", max: "48", value: "24" });
  const eraser = el("input", { type: "checkbox" });
  const starts = api.numberInput(8, 1, api.limits.max_starts || 16);
  const steps = api.numberInput(100, 1, api.limits.max_project_steps || 300);
  const seed = api.numberInput(0, 0, 2 ** 31 - 1);
  const cls = run.classes.length ?
    api.selectInput([["", "any (starts spread over the classes)"], ...run.classes.map((c, i) => [i, c])], "") : null;
  const go = el("button", { type: "submit", class: "primary" }, "Project");
  const result = el("div", { class: "grid spaced" });
  const undo = [];

  container.append(el("div", { class: "sketch-cols" },
    el("div", { class: "panel" },
      el("h3", {}, "Sketch"),
      canvas,
      el("div", { class: "controls" },
        field("pen", colour), field("brush", size), el("label", { class: "check" }, eraser, " eraser"),
        el("button", { type: "button", onclick: undoStroke }, "Undo"),
        el("button", { type: "button", onclick: clear }, "Clear")),
      el("p", { class: "hint" }, "Only the strokes count; the transparent part is left free. The pen is white: " +
        `MNIST-like runs draw white on black. The sketch is resized to ${run.shape.slice(-2).join("×")}.`)),
    el("div", { class: "panel" },
      el("h3", {}, "Candidates"),
      el("form", { class: "controls", onsubmit: (e) => { e.preventDefault(); project(); } },
        field("starts", starts), field("steps", steps), field("seed", seed), cls && field("class", cls), go),
      result)));

  // ---- drawing (pointer events: mouse, pen and touch)
  let last = null;
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    undo.push(ctx.getImageData(0, 0, SIDE, SIDE));
    if (undo.length > UNDO) undo.shift();
    last = point(e);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = point(e);
    stroke(last, p);
    last = p;
  });
  for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, () => { last = null; });

  function point(e) {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * (SIDE / box.width), (e.clientY - box.top) * (SIDE / box.height)];
  }

  function stroke(a, b) {
    ctx.globalCompositeOperation = eraser.checked ? "destination-out" : "source-over";
    ctx.strokeStyle = colour.value;
    ctx.lineWidth = Number(size.value);
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...a);
    ctx.lineTo(b[0] + 0.01, b[1]); // a zero-length line draws no dot
    ctx.stroke();
  }

  function undoStroke() {
    if (undo.length) ctx.putImageData(undo.pop(), 0, 0);
  }

  function clear() {
    undo.push(ctx.getImageData(0, 0, SIDE, SIDE));
    ctx.clearRect(0, 0, SIDE, SIDE);
  }

  // ---- projection
  async function project() {
    await api.action(go, async () => {
      const png = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
      const form = new FormData();
      form.append("sketch", png, "sketch.png");
      form.append("starts", starts.value);
      form.append("steps", steps.value);
      form.append("seed", seed.value);
      if (cls && cls.value !== "") form.append("class", cls.value);
      result.replaceChildren(el("p", { class: "muted" }, "projecting…"));
      const answer = await api.postForm(api.url(run, "project"), form).catch((err) => {
        result.replaceChildren();
        throw err;
      });
      showCandidates(answer);
    });
  }

  function showCandidates(answer) {
    result.replaceChildren(...answer.images.map((image, i) => {
      const pin = { image, latent: answer.latents[i], class: answer.classes ? answer.classes[i] : null };
      const name = api.className(run, pin.class);
      return el("div", { class: "candidate" },
        el("button", { type: "button", class: "tile", title: "click to pin", onclick: () => api.pins.add(run.id, pin) },
          el("img", { src: image, alt: `candidate ${i + 1}`, class: "pixel" }),
          el("span", { class: "caption" }, i === 0 ? "best" : `#${i + 1}`, name ? ` · class ${name}` : "",
            el("br"), `loss ${answer.losses[i].toFixed(3)}`)),
        run.views.includes("explore") && el("button", { type: "button", class: "link",
          onclick: () => { api.pins.add(run.id, pin); api.open("explore"); } }, "explore →"));
    }));
  }
}
