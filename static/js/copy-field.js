// "Copy link" beside a read-only field (data-copy-from names the field). Without JavaScript the
// button stays hidden and the field can be selected and copied by hand; with it, the button
// shows and copies, and focusing the field selects all of it. Works for fields htmx swaps in.
(function () {
  "use strict";

  function reveal(root) {
    root.querySelectorAll("[data-copy-from][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function copied(button) {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-from]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy-from"));
    if (!field) return;
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { copied(button); },
        function () { document.execCommand("copy") && copied(button); });
    } else if (document.execCommand("copy")) {
      copied(button);
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSettle", function (event) { reveal(event.target); });
})();
