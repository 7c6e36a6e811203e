// Keyboard shortcuts on the incident page: a acknowledges, r resolves (each by pressing the
// page's own button, so the same form is sent), n goes to the note box, ? lists them. None
// fires while typing in a field or with Ctrl, Alt or Meta held.
(function () {
  "use strict";
  var dialog = document.getElementById("shortcuts");
  if (!dialog) return;

  function show() {
    if (dialog.open) return;
    if (dialog.showModal) dialog.showModal();
    else dialog.setAttribute("open", "");
  }
  // The button lives in the summary, which live.js replaces when the incident changes: listen
  // on the document, not on the button.
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("#shortcuts-button")) show();
  });

  function say(text) {
    var line = document.getElementById("shortcut-status");
    if (line) line.textContent = text;
  }

  function press(buttonId, what) {
    var button = document.getElementById(buttonId);
    if (!button || button.disabled) {
      say("This incident cannot be " + what + " now.");
      return;
    }
    say("");
    button.click();
  }

  function typing(target) {
    if (!target || target === document.body) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    if (typing(e.target) || dialog.open) return;
    switch (e.key) {
      case "a":
        e.preventDefault();
        press("acknowledge", "acknowledged");
        break;
      case "r":
        e.preventDefault();
        press("resolve", "resolved");
        break;
      case "n": {
        var note = document.getElementById("note-text");
        if (!note) { say("Your role cannot add notes."); return; }
        e.preventDefault();
        note.focus();
        break;
      }
      case "?":
        e.preventDefault();
        show();
        break;
    }
  });
})();
