// The index page's own script (a file, not inline: the pages' CSP allows no inline script).
(async () => {
  const me = await window.site.boot();
  const slot = document.getElementById("signin-slot");
  if (me.absent) {
    slot.replaceChildren(window.site.h("p", { class: "site-muted" }, "The platform API is not running on this server; the chat pages still work with Matrix accounts."));
  } else if (!me.ok) {
    slot.replaceChildren(window.site.signInForm(() => location.reload()));
  } else {
    slot.replaceChildren(window.site.h("p", {}, `You are signed in as ${me.data.display_name || me.data.slug}.`));
  }
})();
