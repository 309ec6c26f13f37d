// Settings page: a form made from the settings schema (/api/v1/settings), saved with the config file's checks.
// Values follow the file (polled twice a second), except the fields being edited here.
"use strict";

(() => {
  const { api, el, byId } = Studio;
  const SECTION_TITLES = { detector: "Face detector", classifier: "Expression classifier", camera: "Camera",
                           output: "Output", runtime: "Runtime", timeline: "Timeline", privacy: "Privacy",
                           smoothing: "Smoothing", pack: "Pack" };
  let fields = [];
  const dirty = new Set();
  let built = false;

  function inputId(key) { return "in-" + key.replace(/\./g, "-"); }

  function shown(value) { return value === null || value === undefined ? "" : String(value); }

  function buildField(f) {
    const id = inputId(f.key);
    let input;
    if (f.kind === "bool") {
      input = el("input", { type: "checkbox", id, name: f.key });
    } else if (f.fixed_choices) {
      input = el("select", { id, name: f.key }, ...f.choices.map((c) => el("option", { value: c, text: c })));
    } else {
      const listId = f.choices.length ? id + "-choices" : null;
      // type="text" even for numbers: a number input hides what was typed when it is not a number, and the
      // config's own message for it is what the user should see
      input = el("input", { type: "text", id, name: f.key,
                            inputmode: f.kind === "int" || f.kind === "float" ? "decimal" : null,
                            list: listId, autocomplete: "off", spellcheck: "false" });
    }
    input.addEventListener("input", () => { dirty.add(f.key); clearError(f.key); });
    input.addEventListener("change", () => { dirty.add(f.key); clearError(f.key); });
    const notes = [f.restart ? el("span", { class: "note", text: "applies at the next start of Emoji Cam" }) : null,
                   f.overridden ? el("span", { class: "note",
                                               text: `overridden for this run on the command line: ${f.override}` })
                                : null];
    const control = el("div", {}, input);
    if (input.tagName === "INPUT" && input.getAttribute("list")) {
      control.append(el("datalist", { id: input.getAttribute("list") },
        ...f.choices.map((c) => el("option", { value: c }))));
    }
    return el("div", { class: "field", "data-key": f.key },
      el("label", { for: id }, f.key.split(".")[1].replace(/_/g, " "), el("span", { class: "key", text: f.key }),
        ...notes),
      control,
      el("div", { class: "help", text: `${f.help}\nAllowed: ${f.allowed}. Default: ${shown(f.default)}.` }),
      el("p", { class: "error", id: "err-" + f.key, role: "alert" }));
  }

  function build(data) {
    fields = data.fields.filter((f) => !f.elsewhere);
    const groups = new Map();
    for (const f of fields) {
      const section = f.key.split(".")[0];
      if (!groups.has(section)) groups.set(section, []);
      groups.get(section).push(f);
    }
    byId("presets").replaceChildren(...Object.keys(data.presets).map((name) =>
      el("button", { type: "button", "data-preset": name, "aria-pressed": "false", text: name,
                     title: Object.entries(data.presets[name]).map(([k, v]) => `${k} ${v}`).join(", "),
                     onclick: () => savePreset(name) })));
    const smoothing = byId("group-smoothing");
    for (const f of groups.get("smoothing") || []) smoothing.append(buildField(f));
    groups.delete("smoothing");
    byId("groups").replaceChildren(...[...groups.entries()].map(([section, list]) =>
      el("fieldset", { class: "group", id: "group-" + section },
        el("legend", { text: SECTION_TITLES[section] || section }), ...list.map(buildField))));
    built = true;
  }

  function fill(data) {
    byId("settings-path").textContent = data.path;
    byId("file-problem").textContent = data.problem
      ? "The settings file has an error; Emoji Cam keeps the last good settings (shown here) until it is fixed:\n"
        + data.problem : "";
    for (const f of fields) {
      if (dirty.has(f.key)) continue;
      const input = byId(inputId(f.key));
      const value = data.values[f.key];
      if (f.kind === "bool") input.checked = Boolean(value);
      else if (document.activeElement !== input) input.value = shown(value);
    }
    for (const button of byId("presets").querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.preset === data.preset));
    }
  }

  function valueOf(f) {
    const input = byId(inputId(f.key));
    if (f.kind === "bool") return input.checked;
    const text = input.value.trim();
    if ((f.kind === "int" || f.kind === "float" || f.kind === "device") && /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) {
      return Number(text);
    }
    return input.value;  // anything else goes as typed: the config's check says what is wrong with it
  }

  function clearError(key) {
    const error = byId("err-" + key);
    if (error) error.textContent = "";
    const input = byId(inputId(key));
    if (input) input.classList.remove("invalid");
  }

  function showErrors(error) {
    byId("save-message").textContent = "";
    byId("save-error").textContent = error.message;
    for (const [key, message] of Object.entries(error.fields || {})) {
      const slot = byId("err-" + key);
      if (slot) slot.textContent = message;
      const input = byId(inputId(key));
      if (input) input.classList.add("invalid");
    }
  }

  async function send(json, what) {
    byId("save-error").textContent = "";
    try {
      const data = await api("/settings", { method: "POST", json });
      dirty.clear();
      for (const f of fields) clearError(f.key);
      fill(data);
      byId("save-message").textContent = `${what} saved to the settings file.`;
    } catch (error) {
      showErrors(error);
    }
  }

  function savePreset(name) { send({ preset: name }, `Smoothing “${name}”`); }

  async function refresh() {
    const data = await api("/settings");
    if (!built) build(data);
    fill(data);
  }

  document.addEventListener("DOMContentLoaded", () => {
    byId("settings-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const changes = {};
      for (const key of dirty) {
        const f = fields.find((x) => x.key === key);
        if (f) changes[key] = valueOf(f);
      }
      if (!Object.keys(changes).length) {
        byId("save-message").textContent = "Nothing changed.";
        return;
      }
      send({ changes }, Object.keys(changes).join(", "));
    });
    byId("revert").addEventListener("click", () => {
      dirty.clear();
      for (const f of fields) clearError(f.key);
      byId("save-message").textContent = "";
      byId("save-error").textContent = "";
      refresh();
    });
    Studio.every(500, refresh);
  });
})();
