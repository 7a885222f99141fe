// The messages page's own script (a file, not inline: the pages' CSP allows no inline script).
window.site.boot();
