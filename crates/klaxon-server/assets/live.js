// Live incident timeline: appends entries as they are written (Server-Sent Events) and, when
// an entry changes the incident itself, refreshes the summary in place. No framework.
(function () {
  "use strict";
  var root = document.getElementById("incident");
  var timeline = document.getElementById("timeline");
  if (!root || !timeline || !window.EventSource) return;
  var id = root.getAttribute("data-incident");
  var after = root.getAttribute("data-after") || "0";
  var filtered = timeline.getAttribute("data-filter") !== "";
  // Entries that only add to the timeline; everything else may change the summary, the
  // pinned list or entries already shown (a pin).
  var quiet = { "incident.note_added": true };
  var refreshing = false, again = false;

  function refreshSummary() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch("/incidents/" + id, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) return;
        var doc = new DOMParser().parseFromString(text, "text/html");
        ["summary", "pinned", "tasks", "related", "followers"].forEach(function (part) {
          var fresh = doc.getElementById(part);
          var current = document.getElementById(part);
          if (fresh && current) current.replaceWith(fresh);
        });
        timeline.querySelectorAll("li.entry").forEach(function (li) {
          var fresh = doc.getElementById(li.id);
          if (fresh && fresh.outerHTML !== li.outerHTML) li.replaceWith(fresh);
        });
      })
      .finally(function () {
        refreshing = false;
        if (again) { again = false; refreshSummary(); }
      });
  }

  var source = new EventSource("/incidents/" + id + "/live?after=" + encodeURIComponent(after));
  source.addEventListener("entry", function (ev) {
    var d = JSON.parse(ev.data);
    if (document.getElementById("entry-" + d.seq)) return;
    if (!filtered) {
      timeline.insertAdjacentHTML("beforeend", d.html);
    }
    if (!quiet[d.kind]) refreshSummary();
    document.body.setAttribute("data-live-seq", String(d.seq));
  });
  source.addEventListener("open", function () {
    document.body.setAttribute("data-live", "connected");
  });
})();
