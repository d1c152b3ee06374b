// myHEZO: small progressive enhancements, loaded from 'self' (strict CSP:
// no inline script). Every page works without this file.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#id" data-copied="…" hidden> copies the
  // text of #id without its spaces and says so in the next [role=status].
  function showCopyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.replace(/\s+/g, "");
    navigator.clipboard.writeText(text).then(function () {
      var status = button.parentElement.querySelector("[role=status]");
      if (status) status.textContent = button.getAttribute("data-copied");
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    showCopyButtons(document);
  });
  document.addEventListener("htmx:load", function (event) {
    showCopyButtons(event.target);
  });
})();
