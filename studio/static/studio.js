// Emoji Cam Studio: what every page shares. No library: fetch, a few DOM helpers, the state badge.
"use strict";

const Studio = (() => {
  class ApiError extends Error {
    constructor(message, status, fields, data) {
      super(message);
      this.status = status;
      this.fields = fields || {};
      this.data = data || {};  // the whole answer (e.g. "exists": true)
    }
  }

  async function api(path, { method = "GET", json, body, headers = {} } = {}) {
    const options = { method, headers: { ...headers }, credentials: "same-origin" };
    if (json !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(json);
    } else if (body !== undefined) {
      options.body = body;
    }
    const response = await fetch("/api/v1" + path, options);
    const kind = response.headers.get("Content-Type") || "";
    const data = kind.includes("application/json") ? await response.json() : null;
    if (!response.ok) {
      const message = (data && data.error) || `${response.status} ${response.statusText}`;
      throw new ApiError(message, response.status, data && data.fields, data);
    }
    return data;
  }

  // el("div", {class: "x", text: "hi"}, child, ...)
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key === "style") node.style.cssText = value;  // CSSOM: allowed by the page's CSP, unlike style=""
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function byId(id) { return document.getElementById(id); }

  function badgeClass(state) {
    if (state === "running") return "running";
    if (state === "paused") return "paused";
    if (state === "error" || state === "stopped") return "error";
    if (state === "camera unavailable") return "unavailable";
    return "";
  }

  // Poll f every `ms` while the page is visible; errors are shown by f itself.
  function every(ms, f) {
    let timer = null;
    async function tick() {
      try { await f(); } catch (error) { console.warn(error); }
      timer = setTimeout(tick, document.hidden ? ms * 4 : ms);
    }
    tick();
    return () => clearTimeout(timer);
  }

  const listeners = [];
  function onStatus(f) { listeners.push(f); }

  document.addEventListener("DOMContentLoaded", () => {
    const badge = byId("state-badge");
    const ms = document.body.dataset.page === "live" ? 500 : 1500;
    every(ms, async () => {
      let status;
      try {
        status = await api("/status");
      } catch (error) {
        badge.textContent = error.status === 401 ? "token needed" : "Studio not reachable";
        badge.className = "badge error";
        throw error;
      }
      badge.textContent = status.state + (status.demo ? " · demo clip" : "");
      badge.className = "badge " + badgeClass(status.state);
      for (const f of listeners) f(status);
    });
  });

  const EMOJI_LABELS = { angry: "Angry", disgust: "Disgust", fear: "Fear", happy: "Happy", sad: "Sad",
                         surprise: "Surprise", neutral: "Neutral" };

  return { api, el, byId, every, onStatus, ApiError, EMOJI_LABELS };
})();
