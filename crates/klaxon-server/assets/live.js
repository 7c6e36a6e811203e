// Live incident timeline: puts entries at the top as they are written (Server-Sent Events,
// newest first like the page) and, when an entry changes the incident itself, refreshes the
// parts of the page marked data-live-part in place. No framework.
(function () {
  "use strict";
  var root = document.getElementById("incident");
  var timeline = document.getElementById("timeline");
  if (!root || !timeline || !window.EventSource) return;
  var id = root.getAttribute("data-incident");
  var after = root.getAttribute("data-after") || "0";
  var filtered = timeline.getAttribute("data-filter") !== "";
  // Entries that only add to the timeline; everything else may change the summary, the
  // side panels or entries already shown (a pin).
  var quiet = { "incident.note_added": true };
  var refreshing = false, again = false;

  // A part where someone changed a field is left alone: replacing it would lose what they
  // typed. It catches up with the next change.
  function edited(el) {
    var fields = el.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden") continue;
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) return true;
      } else if (f.tagName === "SELECT") {
        if (!f.options.length) continue;
        var first = 0;
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].defaultSelected) { first = j; break; }
        }
        if (f.selectedIndex !== first) return true;
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch("/incidents/" + id, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) return;
        var doc = new DOMParser().parseFromString(text, "text/html");
        var focused = document.activeElement && document.activeElement.id;
        document.querySelectorAll("[data-live-part]").forEach(function (current) {
          var fresh = doc.getElementById(current.id);
          if (!fresh || fresh.outerHTML === current.outerHTML || edited(current)) return;
          // Keep what the person unfolded.
          current.querySelectorAll("details[open][id]").forEach(function (d) {
            var f = fresh.querySelector("#" + d.id);
            if (f) f.open = true;
          });
          current.replaceWith(document.importNode(fresh, true));
        });
        // Focus stays where it was, on the new copy of the same control.
        if (focused && document.activeElement === document.body) {
          var back = document.getElementById(focused);
          if (back) back.focus();
        }
        timeline.querySelectorAll(":scope > li").forEach(function (li) {
          var fresh = doc.getElementById(li.id);
          if (fresh && fresh.outerHTML !== li.outerHTML) li.replaceWith(document.importNode(fresh, true));
        });
        document.dispatchEvent(new CustomEvent("incident:refreshed"));
      })
      .finally(function () {
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  function connect() {
    var source = new EventSource("/incidents/" + id + "/live?after=" + encodeURIComponent(after));
    source.addEventListener("entry", function (ev) {
      var d = JSON.parse(ev.data);
      if (document.getElementById("entry-" + d.seq)) return;
      if (!filtered) timeline.insertAdjacentHTML("afterbegin", d.html);
      if (!quiet[d.kind]) refresh();
      document.body.setAttribute("data-live-seq", String(d.seq));
    });
    source.addEventListener("open", function () {
      document.body.setAttribute("data-live", "connected");
    });
  }

  // After the page has loaded: the stream stays open, and the page should not wait on it.
  if (document.readyState === "complete") connect();
  else window.addEventListener("load", connect);
})();
