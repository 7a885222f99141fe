// The group page's own script (a file, not inline: the pages' CSP allows no inline script).
(async () => {
  const { h, api, query, boot, signInForm, chatElement, personItem, encryptionControl } = window.site;
  const slug = query("slug", "pythonistas");
  const tabs = document.getElementById("tabs");

  function selectTab(id, focus) {
    for (const tab of tabs.querySelectorAll("[role=tab]")) {
      const on = tab.dataset.tab === id;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById("panel-" + tab.dataset.tab).hidden = !on;
      if (on && focus) tab.focus();
    }
    history.replaceState(null, "", `?slug=${encodeURIComponent(slug)}#${id}`);
  }

  function renderTabs(ids) {
    const labels = { about: "About", events: "Events", discussion: "Discussion", members: "Members" };
    tabs.replaceChildren(...ids.map((id) => {
      const b = h("button", { type: "button", role: "tab", id: "tab-" + id, "aria-controls": "panel-" + id, class: "site-tab" }, labels[id]);
      b.dataset.tab = id;
      b.addEventListener("click", () => selectTab(id));
      b.addEventListener("keydown", (e) => {
        const i = ids.indexOf(id);
        if (e.key === "ArrowRight") selectTab(ids[(i + 1) % ids.length], true);
        if (e.key === "ArrowLeft") selectTab(ids[(i - 1 + ids.length) % ids.length], true);
      });
      return b;
    }));
    const wanted = location.hash.slice(1);
    selectTab(ids.includes(wanted) ? wanted : "about");
  }

  function showDiscussion(tenant) {
    const panel = document.getElementById("panel-discussion");
    if (!panel.querySelector("om-chat")) panel.replaceChildren(chatElement("tab", "group", slug, { tenant }));
  }

  await boot();
  const r = await api("GET", `groups/${encodeURIComponent(slug)}`);
  const name = document.getElementById("group-name");
  if (r.absent) {
    name.textContent = slug.replace(/-/g, " ");
    document.getElementById("group-description").textContent =
      "The platform API is not available here; the Discussion tab finds this group's room by its slug.";
    renderTabs(["about", "events", "discussion", "members"]);
    showDiscussion(null);
    return;
  }
  if (r.status === 401) {
    name.textContent = "Sign in to see this group";
    document.getElementById("panel-about").replaceChildren(signInForm(() => location.reload()));
    renderTabs(["about"]);
    return;
  }
  if (!r.ok) {
    name.textContent = r.status === 404 ? "Group not found" : "Could not load the group";
    document.getElementById("group-description").textContent = r.message;
    return;
  }
  const group = r.data;
  document.title = `${group.name} · OpenMeet demo`;
  name.textContent = group.name;
  document.getElementById("group-description").textContent = group.description || "No description yet.";
  const control = encryptionControl("groups", group);
  if (control) document.getElementById("panel-about").append(control);
  document.getElementById("group-members").replaceChildren(...group.members.map((m) =>
    personItem(m, ["owner", "admin", "banned"])));
  const events = await api("GET", "events");
  const list = document.getElementById("group-events");
  if (events.ok && events.data.length) {
    list.replaceChildren(...events.data.map((e) =>
      h("li", {}, h("a", { href: `/event.html?slug=${encodeURIComponent(e.slug)}` }, e.name))));
  } else {
    list.replaceChildren(h("li", { class: "site-muted" }, "No upcoming events."));
  }
  const actions = document.getElementById("group-actions");
  if (group.is_member) {
    renderTabs(["about", "events", "discussion", "members"]);
    showDiscussion(group.tenant);
  } else {
    renderTabs(["about", "events", "members"]);
    const join = h("button", { type: "button", class: "site-btn site-btn--primary" }, "Join group");
    join.addEventListener("click", async () => {
      join.disabled = true;
      const res = await api("POST", `groups/${encodeURIComponent(slug)}/join`);
      if (res.ok) location.reload();
      else { join.disabled = false; actions.append(h("p", { class: "site-error", role: "alert" }, res.message)); }
    });
    actions.replaceChildren(h("p", { class: "site-muted" }, "Join this group to take part in its discussion."), join);
  }
})();
