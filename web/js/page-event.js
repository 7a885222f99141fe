// The event page's own script (a file, not inline: the pages' CSP allows no inline script).
(async () => {
  const { h, api, query, boot, signInForm, chatElement, personItem, encryptionControl } = window.site;
  const slug = query("slug", "python-meetup");
  const chatSlot = document.getElementById("event-chat");
  const name = document.getElementById("event-name");
  const description = document.getElementById("event-description");
  const attendees = document.getElementById("event-attendees");

  function showChat(tenant, expectInvite) {
    chatSlot.replaceChildren(chatElement("sidebar", "event", slug,
      { tenant, "expect-invite": expectInvite ? "" : null }));
  }

  function showAttendBanner(event) {
    const error = h("p", { class: "site-error", role: "alert", hidden: "" });
    const button = h("button", { type: "button", class: "site-btn site-btn--primary" }, "Attend");
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Attending…";
      const r = await api("POST", `events/${encodeURIComponent(slug)}/attend`);
      if (r.ok) {
        // No reload: the chat appears once the invite arrives (the client joins by itself).
        showChat(event.tenant, true);
        load(false);
        return;
      }
      button.disabled = false;
      button.textContent = "Attend";
      error.textContent = r.message;
      error.hidden = false;
    });
    chatSlot.replaceChildren(h("div", { class: "site-banner", role: "region", "aria-label": "Join the discussion" },
      h("p", {}, "Attend this event to join the discussion"), button, error));
  }

  async function load(decideChat = true) {
    const r = await api("GET", `events/${encodeURIComponent(slug)}`);
    if (r.absent) {
      // Pages served without the platform: show the event's chat to whoever signs in to it.
      name.textContent = slug.replace(/-/g, " ");
      description.textContent = "The platform API is not available here; the chat below finds this event's room by its slug.";
      if (decideChat) showChat(null, false);
      return;
    }
    if (r.status === 401) {
      name.textContent = "Sign in to see this event";
      chatSlot.replaceChildren(signInForm(() => location.reload()));
      return;
    }
    if (!r.ok) {
      name.textContent = r.status === 404 ? "Event not found" : "Could not load the event";
      description.textContent = r.message;
      return;
    }
    const event = r.data;
    document.title = `${event.name} · OpenMeet demo`;
    name.textContent = event.name;
    description.textContent = event.description || "";
    attendees.replaceChildren(...event.attendees.map((a) => personItem(a, ["creator", "organizer"])));
    if (decideChat) {
      const control = encryptionControl("events", event);
      document.getElementById("event-encryption").replaceChildren(...(control ? [control] : []));
    }
    if (!decideChat) return;
    if (event.is_attending) showChat(event.tenant, false);
    else showAttendBanner(event);
  }

  await boot();
  await load();
})();
