// Session page: a stacked-area chart of the expressions shown over the session (/api/v1/session), on a canvas;
// the reports of vcam-emoji analyze / report found by the Studio (/api/v1/reports), and a report of this session.
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

  // ---------------------------------------------------------------------------------------------------- reports
  function sayReports(message, error) {
    byId("reports-message").textContent = message || "";
    byId("reports-error").textContent = error || "";
  }

  function sharesBar(shares, labels) {
    return el("div", { class: "shares", title: labels.map((l) => `${EMOJI_LABELS[l]} ${(shares[l] * 100).toFixed(0)}%`)
      .join(", ") }, ...labels.filter((l) => shares[l] > 0).map((l) =>
      el("span", { style: `width:${(shares[l] * 100).toFixed(2)}%;background:${COLOURS[l]}` })));
  }

  function reportRow(r, labels) {
    const s = r.summary;
    const name = r.files.length === 1 ? r.files[0].name : `${r.files.length} files`;
    const failed = s.files_failed ? el("span", { class: "tag bad", text: `${s.files_failed} failed` }) : null;
    return el("tr", { "data-report": r.id },
      el("td", {}, el("div", { class: "pack-name", text: name }, failed),
        el("div", { class: "pack-meta", text: r.folder })),
      el("td", { text: new Date(r.made_at * 1000).toLocaleString() }),
      el("td", { text: String(s.persons) }),
      el("td", { text: clock(s.duration_s) }),
      el("td", {}, sharesBar(s.shares, labels),
        el("div", { class: "pack-meta", text: s.dominant ? `mostly ${EMOJI_LABELS[s.dominant].toLowerCase()} `
          + `(${(s.shares[s.dominant] * 100).toFixed(0)}%)` : "no face" })),
      el("td", { text: (s.mean_valence >= 0 ? "+" : "") + s.mean_valence.toFixed(2) }),
      el("td", { class: "pack-actions" },
        r.html ? el("a", { class: "button primary", href: r.html, target: "_blank", rel: "noopener",
                           text: "Open report" }) : null,
        el("a", { class: "button", href: r.csv, target: "_blank", rel: "noopener", text: "CSV" })));
  }

  function folderItem(path, own) {
    return el("li", { "data-folder": path }, el("code", { text: path }),
      own ? el("span", { class: "tag", text: "the Studio's own" })
        : el("button", { type: "button", class: "danger", text: "Remove", onclick: () => removeFolder(path) }));
  }

  async function loadReports() {
    const data = await api("/reports");
    const labels = data.expressions;
    byId("report-rows").replaceChildren(...(data.reports.length ? data.reports.map((r) => reportRow(r, labels))
      : [el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No reports yet." }))]));
    byId("report-problems-head").hidden = !data.problems.length;
    byId("report-problems").replaceChildren(...data.problems.map((p) => el("li", { text: p })));
    byId("report-folders").replaceChildren(folderItem(data.folder, true),
      ...data.folders.map((f) => folderItem(f, false)));
    const make = byId("make-report");
    make.disabled = !data.can_make || data.session.frames < 2;
    byId("make-note").textContent = !data.can_make ? data.why_not
      : data.session.frames < 2 ? "(no frames yet)" : `${data.session.frames} frames so far`
        + (data.session.full ? " (the record is full)" : "");
  }

  async function makeReport() {
    const button = byId("make-report");
    button.disabled = true;
    sayReports("Making the report…");
    try {
      const data = await api("/reports/session", { method: "POST", json: {} });
      sayReports(`Made a report of this session in ${data.report.folder}.`);
    } catch (error) { sayReports("", error.message); }
    await loadReports();
  }

  async function addFolder(event) {
    event.preventDefault();
    const input = byId("folder-path");
    byId("err-path").textContent = "";
    input.classList.remove("invalid");
    try {
      const data = await api("/reports/folders", { method: "POST", json: { path: input.value } });
      sayReports(`The Studio now also looks in ${data.added}.`);
      input.value = "";
    } catch (error) {
      byId("err-path").textContent = (error.fields && error.fields.path) || error.message;
      input.classList.add("invalid");
    }
    await loadReports();
  }

  async function removeFolder(path) {
    try {
      await api("/reports/folders/remove", { method: "POST", json: { path } });
      sayReports(`The Studio no longer looks in ${path}.`);
    } catch (error) { sayReports("", error.message); }
    await loadReports();
  }

  document.addEventListener("DOMContentLoaded", () => {
    Studio.every(2000, refresh);
    byId("make-report").addEventListener("click", makeReport);
    byId("folder-form").addEventListener("submit", addFolder);
    loadReports().catch((error) => sayReports("", error.message));
    setInterval(() => { if (!document.hidden) loadReports().catch(() => {}); }, 5000);  // reports made meanwhile
  });
})();
