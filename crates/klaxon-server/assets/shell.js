// The shell on every signed-in page: folds the navigation behind a Menu button when it does not
// fit on one line, and offers the browser's time zone to someone who has not chosen one.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var bar = document.querySelector(".topbar");
  var toggle = document.getElementById("menu-toggle");
  if (bar && toggle) {
    var nav = bar.querySelector("nav");
    // Fold when the links would wrap: measured, not guessed from a breakpoint.
    var fit = function () {
      bar.classList.remove("folds");
      var links = nav ? nav.querySelectorAll("a") : [];
      var wraps = links.length > 0 && links[links.length - 1].offsetTop > links[0].offsetTop;
      var crowded = wraps || bar.scrollWidth > bar.clientWidth + 1;
      bar.classList.toggle("folds", crowded);
      if (!crowded) { bar.classList.remove("open"); toggle.setAttribute("aria-expanded", "false"); }
    };
    toggle.addEventListener("click", function () {
      var open = !bar.classList.contains("open");
      bar.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && bar.classList.contains("open")) {
        bar.classList.remove("open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
    window.addEventListener("resize", fit);
    fit();
  }
  var offer = document.getElementById("zone-offer");
  if (offer && window.Intl) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var input = document.getElementById("zone-offer-value");
    var label = document.getElementById("zone-offer-name");
    if (zone && input && label) {
      input.value = zone;
      label.textContent = zone;
      offer.hidden = false;
    }
  }
})();
