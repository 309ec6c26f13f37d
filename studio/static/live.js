// Live page: the picture (MJPEG from /api/v1/live.mjpeg), figures, faces, Enabled/Paused, Mirror, camera.
"use strict";

(() => {
  const { api, el, byId, onStatus, EMOJI_LABELS } = Studio;
  let paused = false;
  let busy = false;
  let packName = null;

  function showError(error) { byId("command-error").textContent = error ? error.message : ""; }

  async function command(json) {
    busy = true;
    try {
      await api("/commands", { method: "POST", json });
      showError(null);
    } catch (error) {
      showError(error);
    } finally {
      busy = false;
    }
  }

  function faceCard(face) {
    const bars = Object.entries(face.probs).map(([label, p]) =>
      el("div", { class: "bar" + (label === face.expression ? " shown" : "") },
        el("span", { text: EMOJI_LABELS[label] || label }),
        el("span", { class: "track" }, el("span", { class: "fill", style: `width:${(p * 100).toFixed(1)}%` })),
        el("span", { class: "num", text: (p * 100).toFixed(0) + "%" })));
    const icon = packName ? el("img", { alt: "", src: `/api/v1/packs/image?name=${encodeURIComponent(packName)}` +
                                                     `&expression=${face.expression}&size=48` }) : null;
    return el("div", { class: "face", "data-expression": face.expression },
      el("div", { class: "face-head" }, icon,
        el("span", { text: `Face ${face.track_id}: ${EMOJI_LABELS[face.expression] || face.expression}` }),
        el("span", { class: "count", text: `score ${face.score.toFixed(2)}` })),
      ...bars);
  }

  onStatus((s) => {
    paused = s.paused;
    packName = s.pack;
    byId("f-state").textContent = s.state + (s.demo ? " (demo clip)" : "");
    byId("f-fps").textContent = `${s.fps.toFixed(1)} fps (target ${s.target_fps})`;
    byId("f-latency").textContent = `p50 ${s.latency_ms.p50.toFixed(1)} ms · p99 ${s.latency_ms.p99.toFixed(1)} ms`;
    byId("f-source").textContent = s.source;
    byId("f-sink").textContent = s.sink || "–";
    byId("f-pack").textContent = s.pack;
    byId("f-models").textContent = `${s.detector} + ${s.classifier} on ${s.providers.join(", ")}`;
    byId("problem").textContent = s.problem || "";
    const button = byId("toggle-pause");
    button.textContent = s.paused ? "Resume (Enabled)" : "Pause";
    button.setAttribute("aria-pressed", String(s.paused));
    if (!busy) byId("mirror").checked = s.mirror;
    byId("face-count").textContent = s.faces.length ? `(${s.faces.length})` : "";
    const faces = byId("faces");
    faces.replaceChildren(...(s.faces.length ? s.faces.map(faceCard)
      : [el("p", { class: "muted", text: s.paused ? "Paused: the camera is released." : "No face now." })]));
    const select = byId("camera");
    if (document.activeElement !== select) select.dataset.configured = JSON.stringify(s.camera);
  });

  async function loadCameras() {
    const select = byId("camera");
    let data;
    try { data = await api("/cameras"); } catch (error) { showError(error); return; }
    const options = data.cameras.map((c) => el("option", { value: JSON.stringify(c.device), text: c.label }));
    const configured = JSON.stringify(data.configured);
    if (!data.cameras.some((c) => JSON.stringify(c.device) === configured)) {
      options.push(el("option", { value: configured, text: `${data.configured} (configured; not found now)` }));
    }
    select.replaceChildren(...options);
    select.value = configured;
  }

  document.addEventListener("DOMContentLoaded", () => {
    byId("toggle-pause").addEventListener("click", () => command({ command: paused ? "resume" : "pause" }));
    byId("mirror").addEventListener("change", (event) => command({ command: "mirror", on: event.target.checked }));
    byId("camera").addEventListener("change", (event) =>
      command({ command: "camera", device: JSON.parse(event.target.value) }));
    const img = byId("live-img");
    img.addEventListener("error", () => {  // the stream ended (server restarted, too many views): retry
      setTimeout(() => { img.src = "/api/v1/live.mjpeg?t=" + Date.now(); }, 2000);
    });
    loadCameras();
  });
})();
