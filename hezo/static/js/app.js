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

  // Relative times: <time datetime="…" data-relative> says "in 40 min" or
  // "2 hr ago" (rendered by the server, hezo.i18n.format_relative) and is kept
  // current here, counted the same way: minutes below 2 hours, hours below
  // 2 days, then days.
  var units = [["minute", 60, 120], ["hour", 3600, 48], ["day", 86400, Infinity]];
  var relative = null;

  function relativeText(then, now) {
    var seconds = (then - now) / 1000;
    if (Math.abs(seconds) < 60) seconds = seconds < 0 ? -60 : 60;
    for (var i = 0; i < units.length; i++) {
      var amount = seconds / units[i][1];
      if (Math.abs(amount) < units[i][2]) {
        return relative.format(Math.round(amount), units[i][0]);
      }
    }
  }

  function refreshRelativeTimes(root) {
    if (!window.Intl || !Intl.RelativeTimeFormat) return;
    if (!relative) {
      var lang = document.documentElement.lang || "pl";
      relative = new Intl.RelativeTimeFormat(lang === "en" ? "en-GB" : lang, {
        numeric: "always",
        style: "short",
      });
    }
    var now = Date.now();
    root.querySelectorAll("time[data-relative]").forEach(function (element) {
      var then = Date.parse(element.getAttribute("datetime"));
      if (isNaN(then)) return;
      var text = relativeText(then, now);
      if (text && element.textContent !== text) element.textContent = text;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showCopyButtons(document);
    refreshRelativeTimes(document);
    window.setInterval(function () {
      refreshRelativeTimes(document);
    }, 30000);
  });
  document.addEventListener("htmx:load", function (event) {
    showCopyButtons(event.target);
    refreshRelativeTimes(event.target);
  });
})();

// The case page's details (details[data-open-wide]) are folded on a phone and
// open beside the page on a wide screen; without this file they fold.
(function () {
  "use strict";
  function openWide(root) {
    if (!window.matchMedia || !window.matchMedia("(min-width: 62rem)").matches) return;
    root.querySelectorAll("details[data-open-wide]").forEach(function (details) {
      details.open = true;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    openWide(document);
  });
})();
