// Failed htmx requests. The server sends its error fragment to #htmx-error (HX-Retarget), and
// base.html's htmx-config sends any 5xx there too; this file clears that region when the person
// acts again, lets them dismiss it, and says so when the server cannot be reached at all.
(function () {
  "use strict";

  function region() {
    return document.getElementById("htmx-error");
  }

  function show(title, message) {
    var box = document.createElement("article");
    box.className = "error-box";
    box.setAttribute("role", "alert");
    var header = document.createElement("header");
    var strong = document.createElement("strong");
    strong.textContent = title;
    header.appendChild(strong);
    var text = document.createElement("p");
    text.textContent = message;
    box.append(header, text);
    region().replaceChildren(box);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (region() && trigger && trigger.isTrusted) {  // the person acted; polling does not clear
      region().replaceChildren();
    }
  });

  document.addEventListener("htmx:sendError", function () {
    if (region()) {
      show("Not sent", "We could not reach the server. Check your connection and try again.");
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss-error]");
    if (button && region() && region().contains(button)) {
      region().replaceChildren();
    }
  });
})();
