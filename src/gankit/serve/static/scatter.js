// A scatter of 2-D points on a canvas, the axes symmetric around 0; `modes` (the data's mixture means, if known)
// are drawn as red rings.
export function drawPoints(result, points, el, modes = []) {
  const size = 440, pad = 28;
  const canvas = el("canvas", { class: "scatter", width: size * devicePixelRatio, height: size * devicePixelRatio });
  canvas.style.width = canvas.style.height = `${size}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(devicePixelRatio, devicePixelRatio);
  const extent = Math.max(1e-6, ...points.concat(modes).flat().filter(Number.isFinite).map(Math.abs)) * 1.05;
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
  ctx.strokeStyle = "#dc2626";
  ctx.lineWidth = 1.5;
  for (const [x, y] of modes) {
    ctx.beginPath();
    ctx.arc(at(x), at(-y), 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
  result.replaceChildren(canvas);
}
