// Packs page: every pack as a row of its seven images; use one (applies live), import a .zip, remove a user pack.
"use strict";

(() => {
  const { api, el, byId, EMOJI_LABELS } = Studio;

  function say(message, error) {
    byId("packs-message").textContent = message || "";
    byId("packs-error").textContent = error ? error.message : "";
  }

  function row(pack, expressions) {
    const name = encodeURIComponent(pack.name);
    const images = expressions.map((label) => el("td", { class: "img" },
      el("img", { src: `/api/v1/packs/image?name=${name}&expression=${label}&size=96`, alt: `${pack.name}: ${label}`,
                  loading: "lazy" }),
      el("span", { text: EMOJI_LABELS[label] || label })));
    const actions = el("td", { class: "pack-actions" },
      pack.avatar && !pack.builtin ? el("a", { href: `/avatar?pack=${name}`, class: "button", text: "Edit avatar" })
        : null,
      pack.current ? el("span", { class: "tag current", text: "in use" })
        : el("button", { type: "button", class: "primary", "data-use": pack.name, text: "Use",
                         onclick: () => use(pack.name) }),
      pack.removable ? el("button", { type: "button", class: "danger", "data-remove": pack.name, text: "Remove",
                                      onclick: () => remove(pack.name) }) : null);
    return el("tr", { class: pack.current ? "current" : "", "data-pack": pack.name },
      el("td", {},
        el("div", { class: "pack-name" }, pack.name, el("span", { class: "tag", text: pack.builtin ? "built-in" : "yours" })),
        el("div", { class: "pack-meta", text: `${pack.author} · ${pack.license}` })),
      ...images, actions);
  }

  async function load() {
    const data = await api("/packs");
    byId("expr-heads").textContent = "The seven expressions";
    byId("user-folder").textContent = data.user_folder;
    byId("pack-rows").replaceChildren(...data.packs.map((p) => row(p, data.expressions)));
    byId("broken").replaceChildren(...(data.broken.length ? data.broken.map((b) => el("li", { text: b }))
      : [el("li", { class: "muted", text: "None." })]));
  }

  async function use(name) {
    try {
      await api("/commands", { method: "POST", json: { command: "pack", name } });
      say(`Now showing ${name}.`);
    } catch (error) { say("", error); }
    await load();
  }

  async function remove(name) {
    if (!window.confirm(`Remove the pack ${name} and its folder?`)) return;
    try {
      await api("/packs/remove", { method: "POST", json: { name } });
      say(`Removed ${name}.`);
    } catch (error) { say("", error); }
    await load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    byId("import-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = byId("import-file").files[0];
      if (!file) { say("", new Error("choose a .zip file first")); return; }
      try {
        const data = await api("/packs/import", { method: "POST", body: file,
                                                  headers: { "Content-Type": "application/zip" } });
        say(`Imported ${data.imported.name}.`);
        byId("import-file").value = "";
      } catch (error) { say("", error); }
      await load();
    });
    load().catch((error) => say("", error));
    setInterval(() => { if (!document.hidden) load().catch(() => {}); }, 5000);  // packs added by hand, by the tray
  });
})();
