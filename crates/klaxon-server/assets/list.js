// The incident list and the dashboard: redraws the parts marked data-live-region when an
// incident changes (Server-Sent Events from /incidents/changes, then a fetch of this view),
// and the list's "select all" for acting on several incidents at once. Without JavaScript the
// pages are plain: reload to see changes, tick boxes one by one.
(function () {
  "use strict";

  // --- selecting several incidents ---------------------------------------------------------
  var form = document.getElementById("bulk-form");
  var all = document.getElementById("select-all");
  var count = document.getElementById("bulk-count");

  function boxes() {
    return form ? form.querySelectorAll("input[name=incident]") : [];
  }

  function sync() {
    if (!form || !all) return;
    var list = boxes(), ticked = 0;
    for (var i = 0; i < list.length; i++) if (list[i].checked) ticked++;
    all.checked = list.length > 0 && ticked === list.length;
    all.indeterminate = ticked > 0 && ticked < list.length;
    all.disabled = list.length === 0;
    if (count) count.textContent = ticked ? ticked + " selected" : "";
  }

  if (form && all) {
    all.parentNode.hidden = false;
    all.addEventListener("change", function () {
      var list = boxes();
      for (var i = 0; i < list.length; i++) list[i].checked = all.checked;
      sync();
    });
    form.addEventListener("change", function (e) {
      if (e.target && e.target.name === "incident") sync();
    });
    sync();
  }

  // --- live redraw ---------------------------------------------------------------------------
  var page = document.querySelector("[data-live-url]");
  if (!page || !window.EventSource || !window.fetch || !window.DOMParser) return;
  var url = page.getAttribute("data-live-url");
  var after = page.getAttribute("data-live-after") || "0";
  var busy = false, again = false, stale = false, seq = after;

  function redraw() {
    if (document.hidden) { stale = true; return; }
    if (busy) { again = true; return; }
    busy = true;
    stale = false;
    var drawn = seq;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) return;
        var doc = new DOMParser().parseFromString(text, "text/html");
        // Keep what the reader was doing: ticked boxes and the focused control.
        var ticked = {};
        var list = boxes();
        for (var i = 0; i < list.length; i++) if (list[i].checked) ticked[list[i].value] = true;
        var focused = document.activeElement && document.activeElement.id;
        var regions = document.querySelectorAll("[data-live-region]");
        for (var j = 0; j < regions.length; j++) {
          var fresh = doc.getElementById(regions[j].id);
          if (fresh) regions[j].replaceWith(document.importNode(fresh, true));
        }
        list = boxes();
        for (var k = 0; k < list.length; k++) if (ticked[list[k].value]) list[k].checked = true;
        var target = focused && document.getElementById(focused);
        if (target && document.activeElement !== target) target.focus();
        sync();
        document.body.setAttribute("data-live-seq", drawn);
      })
      .catch(function () { stale = true; })
      .finally(function () {
        busy = false;
        if (again) { again = false; redraw(); }
      });
  }

  var source = new EventSource("/incidents/changes?after=" + encodeURIComponent(after));
  source.addEventListener("change", function (ev) {
    try { seq = String(JSON.parse(ev.data).seq); } catch (e) { /* keep the last one */ }
    redraw();
  });
  source.addEventListener("open", function () {
    document.body.setAttribute("data-live", "connected");
  });
  // A hidden tab does not fetch; it catches up when shown again.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && stale) redraw();
  });
  // Relative times ("12 min ago") and who is on call move on without any incident changing.
  setInterval(function () { if (!document.hidden) redraw(); }, 60000);
})();
