// Session page: a stacked-area chart of the expressions shown over the session (/api/v1/session), on a canvas.
"use strict";

(() => {
  const { api, el, byId, EMOJI_LABELS } = Studio;
  const COLOURS = { angry: "#dc2626", disgust: "#65a30d", fear: "#7c3aed", happy: "#f59e0b", sad: "#2563eb",
                    surprise: "#db2777", neutral: "#9ca3af" };

  function clock(seconds) {
    const s = Math.round(seconds);
    const m = Math.floor(s / 60);
    return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
      : `${m}:${String(s % 60).padStart(2, "0")}`;
  }

  function draw(data) {
    const canvas = byId("chart");
    const ratio = window.devicePixelRatio || 1;
    const W = canvas.clientWidth, H = Math.round(W / 3);  // draw at the size shown: crisp text and lines
    canvas.width = Math.round(W * ratio);
    canvas.height = Math.round(H * ratio);
    canvas.style.height = H + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const left = 44, right = 10, top = 10, bottom = 28;
    const w = W - left - right, h = H - top - bottom;
    ctx.clearRect(0, 0, W, H);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#6b7280";
    ctx.strokeStyle = "#e5e7eb";
    for (const share of [0, 0.25, 0.5, 0.75, 1]) {
      const y = top + h - share * h;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
      ctx.fillText(`${share * 100}%`, 4, y + 4);
    }
    const bins = data.bins;
    if (!bins.length) {
      ctx.fillText("No frames yet.", left + 10, top + 20);
      return;
    }
    const span = Math.max(data.seconds, bins.length * data.bin_seconds);
    const x = (t) => left + (t / span) * w;
    let base = bins.map(() => 0);
    for (const label of data.labels) {
      const next = bins.map((b, i) => {
        const faces = Object.values(b.counts).reduce((a, n) => a + n, 0);
        return base[i] + (faces ? b.counts[label] / faces : 0);
      });
      ctx.beginPath();
      bins.forEach((b, i) => {
        const x0 = x(b.t), x1 = x(b.t + data.bin_seconds);
        ctx.lineTo(x0, top + h - next[i] * h); ctx.lineTo(x1, top + h - next[i] * h);
      });
      for (let i = bins.length - 1; i >= 0; i--) {
        const x0 = x(bins[i].t), x1 = x(bins[i].t + data.bin_seconds);
        ctx.lineTo(x1, top + h - base[i] * h); ctx.lineTo(x0, top + h - base[i] * h);
      }
      ctx.closePath();
      ctx.fillStyle = COLOURS[label];
      ctx.fill();
      base = next;
    }
    ctx.fillStyle = "#6b7280";
    const step = Math.max(1, Math.ceil(span / 8 / 10) * 10);
    for (let t = 0; t <= span; t += step) ctx.fillText(clock(t), x(t) - 10, H - 8);
  }

  async function refresh() {
    const data = await api("/session");
    const since = new Date(data.started_at * 1000);
    byId("session-since").textContent = `since ${since.toLocaleTimeString()} (${clock(data.seconds)}), ` +
      `${data.frames} frames, ${data.face_frames} face-frames`;
    draw(data);
    byId("legend").replaceChildren(...data.labels.map((label) => el("li", { "data-label": label },
      el("span", { class: "swatch", style: `background:${COLOURS[label]}` }),
      `${EMOJI_LABELS[label]} ${(data.shares[label] * 100).toFixed(1)}%`)));
  }

  document.addEventListener("DOMContentLoaded", () => Studio.every(2000, refresh));
})();
