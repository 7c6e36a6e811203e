// The shell on every signed-in page: the Menu button that opens the folded navigation on a
// narrow screen (the folding itself is CSS, so the page does not move after loading), and the
// offer of the browser's time zone to someone who has not chosen one.
(function () {
  "use strict";
  // Pages show what only works with JavaScript (the shortcuts button) under .js.
  document.documentElement.classList.add("js");
  var bar = document.querySelector(".topbar");
  var toggle = document.getElementById("menu-toggle");
  if (bar && toggle) {
    var setOpen = function (open) {
      bar.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    toggle.addEventListener("click", function () {
      setOpen(!bar.classList.contains("open"));
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && bar.classList.contains("open")) {
        setOpen(false);
        toggle.focus();
      }
    });
  }
  var offer = document.getElementById("zone-offer");
  if (offer && window.Intl) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var input = document.getElementById("zone-offer-value");
    var label = document.getElementById("zone-offer-name");
    if (zone && input && label) {
      input.value = zone;
      label.textContent = zone;
    }
  }
})();
