// Avatar page: attribute pickers (from /api/v1/avatar/options), the seven expressions drawn by the server as PNGs
// (debounced: drawn once the pickers rest for a moment), Save as pack (a taken name needs "Replace it"), and a
// sticker to download. The server checks every value; what it refuses is shown next to its field.
"use strict";

(() => {
  const { api, el, byId, ApiError, EMOJI_LABELS } = Studio;
  const DEBOUNCE_MS = 300;
  const SIZE = 192;
  let options = null;
  const values = {};
  let generation = 0;
  let timer = null;
  let shown = [];  // the blob: URLs of the pictures shown now
  let drawnOk = false;

  function words(name) { return name.replace(/_/g, " "); }
  function title(name) { const w = words(name); return w[0].toUpperCase() + w.slice(1); }

  function query(extra = {}) {
    const q = new URLSearchParams();
    for (const a of options.attributes) q.set(a.name, values[a.name]);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q.toString();
  }

  // ------------------------------------------------------------------------------------------------ the pickers
  function buildField(a) {
    const id = "av-" + a.name;
    let control;
    if (a.colour) {
      const listId = id + "-names";
      const text = el("input", { type: "text", id, name: a.name, list: listId, autocomplete: "off",
                                 spellcheck: "false", placeholder: "a name or #RRGGBB" });
      const swatch = el("input", { type: "color", id: id + "-swatch", title: "any colour",
                                   "aria-label": `${words(a.name)}: any colour` });
      text.addEventListener("input", () => { change(a.name, text.value); syncSwatch(a); });
      swatch.addEventListener("input", () => { text.value = swatch.value; change(a.name, swatch.value); });
      control = el("div", { class: "colour" }, text, swatch,
        el("datalist", { id: listId }, ...a.values.map((v) => el("option", { value: v }))));
    } else {
      const select = el("select", { id, name: a.name },
        ...a.values.map((v) => el("option", { value: v, text: words(v) })));
      select.addEventListener("change", () => change(a.name, select.value));
      control = select;
    }
    return el("div", { class: "attr", "data-attr": a.name },
      el("label", { for: id }, title(a.name)),
      control,
      el("span", { class: "hint", text: a.help }),
      el("p", { class: "error", id: "err-" + a.name, role: "alert" }));
  }

  function attribute(name) { return options.attributes.find((a) => a.name === name); }

  // The colour a colour field stands for: #rrggbb typed, a named colour, or (beard) the hair's.
  function hexOf(name) {
    const value = (values[name] || "").trim().toLowerCase();
    if (/^#[0-9a-f]{6}$/.test(value)) return value;
    if (value === "hair" && name !== "hair_color") return hexOf("hair_color");
    return (attribute(name).hex || {})[value] || null;
  }

  function syncSwatch(a) {
    const hex = hexOf(a.name);
    if (hex) byId(`av-${a.name}-swatch`).value = hex;
  }

  function fill(attributes) {
    for (const a of options.attributes) {
      values[a.name] = attributes[a.name] !== undefined ? attributes[a.name] : a.default;
      byId("av-" + a.name).value = values[a.name];
      if (a.colour) syncSwatch(a);
      clearError(a.name);
    }
    schedule(0);
  }

  function change(name, value) {
    values[name] = value;
    clearError(name);
    if (name === "hair_color") syncSwatch(attribute("facial_hair_color"));
    schedule(DEBOUNCE_MS);
  }

  function clearError(name) {
    const slot = byId("err-" + name);
    if (slot) slot.textContent = "";
    const input = name === "name" ? byId("pack-name") : byId("av-" + name);
    if (input) input.classList.remove("invalid");
  }

  function showFieldErrors(error) {
    let placed = false;
    for (const [name, message] of Object.entries(error.fields || {})) {
      const slot = byId("err-" + name);
      if (!slot) continue;
      slot.textContent = message;
      const input = name === "name" ? byId("pack-name") : byId("av-" + name);
      if (input) input.classList.add("invalid");
      placed = true;
    }
    return placed;
  }

  // ------------------------------------------------------------------------------------------------ the preview
  function schedule(ms) {
    clearTimeout(timer);
    byId("preview").classList.add("stale");
    timer = setTimeout(draw, ms);
  }

  async function picture(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new ApiError(data.error || `${response.status} ${response.statusText}`, response.status, data.fields);
    }
    return URL.createObjectURL(await response.blob());
  }

  async function draw() {
    const mine = ++generation;
    const q = query();
    byId("preview-state").textContent = "drawing…";
    const results = await Promise.allSettled(options.expressions.map((label) =>
      picture(`/api/v1/avatar/image?${q}&expression=${label}&size=${SIZE}`)));
    const urls = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    if (mine !== generation) {  // the pickers changed meanwhile: a newer drawing is on its way
      urls.forEach((u) => URL.revokeObjectURL(u));
      return;
    }
    const failed = results.find((r) => r.status === "rejected");
    const preview = byId("preview");
    if (failed) {
      urls.forEach((u) => URL.revokeObjectURL(u));
      const error = failed.reason;
      const placed = showFieldErrors(error);
      byId("preview-error").textContent = placed ? "Not drawn: a value is refused (see the field)." : error.message;
      byId("preview-state").textContent = "";
      drawnOk = false;
      updateSticker();
      return;
    }
    shown.forEach((u) => URL.revokeObjectURL(u));
    shown = urls;
    preview.querySelectorAll("img").forEach((img, i) => { img.src = urls[i]; });
    preview.classList.remove("stale");
    preview.dataset.drawn = q;  // what the pictures show (for tests and screenshots)
    byId("preview-error").textContent = "";
    byId("preview-state").textContent = "";
    drawnOk = true;
    updateSticker();
  }

  function updateSticker() {
    const link = byId("sticker-link");
    const expression = byId("sticker-expression").value;
    const format = byId("sticker-format").value;
    link.href = `/api/v1/avatar/sticker?${query({ expression, format })}`;
    link.setAttribute("download", `emoji-cam-avatar-${expression}.${format}`);
    link.setAttribute("aria-disabled", String(!drawnOk));
  }

  // ---------------------------------------------------------------------------------------------- save as pack
  function sayAboutSave(message, error) {
    byId("save-message").textContent = message || "";
    byId("save-error").textContent = error || "";
    if (!error) clearError("name");
  }

  async function save(overwrite) {
    const name = byId("pack-name").value.trim();
    byId("overwrite").hidden = true;
    byId("save-actions").hidden = true;
    sayAboutSave("Drawing and saving…");
    try {
      const data = await api("/avatar/pack", { method: "POST", json: { name, attributes: { ...values }, overwrite } });
      const saved = data.saved;
      sayAboutSave(`${saved.replaced ? "Replaced" : "Saved"} the pack “${saved.name}” in ${saved.folder}.`);
      byId("use-pack").dataset.pack = saved.name;
      byId("use-pack").disabled = saved.current;
      byId("use-pack").textContent = saved.current ? "In use now" : "Use it now";
      byId("save-actions").hidden = false;
      await loadPacks(saved.name);
    } catch (error) {
      sayAboutSave("");
      if (error.status === 409 && error.data.exists) {
        byId("overwrite-text").textContent = error.message.replace(/; replace it, or choose another name$/, ".");
        byId("overwrite").hidden = false;
        return;
      }
      if (!showFieldErrors(error)) sayAboutSave("", error.message);
      else if (!error.fields.name) sayAboutSave("", "Nothing was saved: a value is refused (see its field).");
    }
  }

  async function usePack() {
    const name = byId("use-pack").dataset.pack;
    try {
      await api("/commands", { method: "POST", json: { command: "pack", name } });
      byId("use-pack").textContent = "In use now";
      byId("use-pack").disabled = true;
    } catch (error) { sayAboutSave("", error.message); }
  }

  // ------------------------------------------------------------------------------------------------ start from
  async function loadPacks(select) {
    const data = await api("/avatar/options");
    options.packs = data.packs;
    const start = byId("start-from");
    start.replaceChildren(el("option", { value: "", text: "the defaults" }),
      ...data.packs.map((p) => el("option", { value: p.name, text: `your pack “${p.name}”` })));
    if (select !== undefined) start.value = data.packs.some((p) => p.name === select) ? select : "";
  }

  function startFrom(name) {
    byId("random-seed").textContent = "";
    const pack = options.packs.find((p) => p.name === name);
    fill(pack ? pack.attributes : {});
    if (pack) byId("pack-name").value = pack.name;
  }

  async function randomAvatar() {
    const data = await api("/avatar/random");
    byId("start-from").value = "";
    byId("random-seed").textContent = `random avatar ${data.seed}`;
    fill(data.attributes);
  }

  document.addEventListener("DOMContentLoaded", async () => {
    try {
      options = await api("/avatar/options");
    } catch (error) {
      byId("preview-error").textContent = error.message;
      return;
    }
    byId("user-folder").textContent = options.user_folder;
    byId("attribute-fields").replaceChildren(...options.attributes.map(buildField));
    byId("preview").replaceChildren(...options.expressions.map((label) =>
      el("figure", { "data-expression": label },
        el("img", { alt: `${EMOJI_LABELS[label] || label}`, width: SIZE, height: SIZE }),
        el("figcaption", { text: EMOJI_LABELS[label] || label }))));
    byId("sticker-expression").replaceChildren(...options.expressions.map((label) =>
      el("option", { value: label, text: EMOJI_LABELS[label] || label })));
    byId("sticker-expression").value = "happy";
    await loadPacks();
    const wanted = new URLSearchParams(window.location.search).get("pack");
    if (wanted && options.packs.some((p) => p.name === wanted)) {
      byId("start-from").value = wanted;
      startFrom(wanted);
    } else {
      fill({});
    }
    byId("start-from").addEventListener("change", (event) => startFrom(event.target.value));
    byId("random").addEventListener("click", () => randomAvatar().catch((e) => {
      byId("preview-error").textContent = e.message;
    }));
    byId("sticker-expression").addEventListener("change", updateSticker);
    byId("sticker-format").addEventListener("change", updateSticker);
    byId("sticker-link").addEventListener("click", (event) => {
      if (!drawnOk) event.preventDefault();
    });
    byId("save-form").addEventListener("submit", (event) => { event.preventDefault(); save(false); });
    byId("overwrite-yes").addEventListener("click", () => save(true));
    byId("overwrite-no").addEventListener("click", () => {
      byId("overwrite").hidden = true;
      sayAboutSave("Nothing was saved; choose another name.");
    });
    byId("pack-name").addEventListener("input", () => {
      byId("overwrite").hidden = true;
      sayAboutSave("");
    });
    byId("use-pack").addEventListener("click", usePack);
  });
})();
