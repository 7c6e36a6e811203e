// The schedule form without its noise: a time window that repeats every day hides its
// weekday boxes (they only matter for weekly windows). Without JavaScript they all show, and
// the server ignores the days of a daily window.
(function () {
  "use strict";
  var sync = function (select) {
    var box = select.closest(".window");
    if (box) { box.classList.toggle("daily", select.value === "daily"); }
  };
  var selects = document.querySelectorAll("select[data-window-type]");
  for (var i = 0; i < selects.length; i++) {
    sync(selects[i]);
    selects[i].addEventListener("change", function (e) { sync(e.target); });
  }
})();
