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

// The engineers' queue (#queue) replaces itself every 30 s (htmx polling).
// The refresh waits while the engineer works in it (focus in the filter bar
// or the list, text selected in the list, the pointer over it) or the tab is
// hidden, so nothing is swapped under their hands; what a refresh brought is
// told in #queue-news ("New cases: 2, changed: 1"), never the whole list.
(function () {
  "use strict";

  var before = null; // the rows' versions when a refresh was sent

  function versions(queue) {
    var found = {};
    queue.querySelectorAll("tr[data-case]").forEach(function (row) {
      found[row.getAttribute("data-case")] = row.getAttribute("data-version");
    });
    return found;
  }

  function engineerIsInQueue(queue) {
    var active = document.activeElement;
    if (active && active.closest && active.closest("#queue, .queue-bar")) return true;
    var selection = window.getSelection ? window.getSelection() : null;
    if (selection && !selection.isCollapsed && queue.contains(selection.anchorNode)) {
      return true;
    }
    return window.matchMedia("(hover: hover)").matches && queue.matches(":hover");
  }

  function announce(added, changed) {
    var news = document.getElementById("queue-news");
    if (!news) return;
    news.textContent = "";
    if (!added && !changed) return;
    var key = added && changed ? "data-both" : added ? "data-new" : "data-changed";
    var text = news.getAttribute(key).replace("{new}", added).replace("{changed}", changed);
    // A moment later, so the same words twice are announced twice.
    window.setTimeout(function () {
      news.textContent = text;
    }, 100);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt.id !== "queue") {
      // A filter or a page of the queue: a new list, not news.
      if (event.detail.target && event.detail.target.id === "queue") before = null;
      return;
    }
    if (document.hidden || engineerIsInQueue(elt)) {
      event.preventDefault();
      return;
    }
    before = versions(elt);
  });

  document.addEventListener("htmx:load", function (event) {
    var queue = event.target;
    if (queue.id !== "queue" || !before) return;
    var seen = before;
    var added = 0;
    var changed = 0;
    before = null;
    queue.querySelectorAll("tr[data-case]").forEach(function (row) {
      var number = row.getAttribute("data-case");
      if (!Object.prototype.hasOwnProperty.call(seen, number)) {
        added += 1;
        row.classList.add("is-new");
      } else if (seen[number] !== row.getAttribute("data-version")) {
        changed += 1;
        row.classList.add("is-changed");
      }
    });
    announce(added, changed);
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
