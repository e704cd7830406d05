// 1-Click: the single actions a person opted into besides the click itself.
// - Keyboard: Shift+B submits the 1-Click form of the item in view (on a list: of the item that
//   holds the focus), when the person chosen in that form turned the shortcut on.
// - Voice: where the browser offers speech recognition, a "Say buy now" button appears for
//   people who turned it on; saying "buy now" submits the form.
// Both submit the same form a click would, so htmx, the disabled-while-sending button and the
// idempotency key apply unchanged. Without JavaScript the plain form still works.
(function () {
  "use strict";
  if (window.oneclickLoaded) { return; }
  window.oneclickLoaded = true;

  var Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;

  function chosenPerson(form) {
    return form.querySelector('input[name="person"]:checked, input[type="hidden"][name="person"]');
  }

  function optedIn(form, preference) {
    var person = chosenPerson(form);
    return Boolean(person) && person.getAttribute("data-" + preference) === "on";
  }

  function submit(form) {
    var button = form.querySelector('button[type="submit"]');
    if (!button || button.disabled) { return; }
    form.requestSubmit(button);
  }

  function say(form, text) {
    var result = form.parentElement.querySelector(".oneclick-result");
    if (result) { result.textContent = text; }
  }

  function formInView() {
    var focused = document.activeElement;
    var scope = focused && focused.closest ? focused.closest(".product-card, .oneclick") : null;
    var forms = (scope || document).querySelectorAll("form[data-oneclick]");
    return forms.length === 1 ? forms[0] : null;
  }

  function isTyping(element) {
    if (!element || !element.tagName) { return false; }
    var tag = element.tagName;
    if (element.isContentEditable || tag === "TEXTAREA" || tag === "SELECT") { return true; }
    return tag === "INPUT" && !/^(checkbox|radio|button|submit|reset|hidden)$/i.test(element.type);
  }

  document.addEventListener("keydown", function (event) {
    if (!event.shiftKey || event.ctrlKey || event.metaKey || event.altKey || event.repeat) { return; }
    if (event.key !== "B" && event.key !== "b") { return; }
    if (isTyping(event.target)) { return; }
    var form = formInView();
    if (!form || !optedIn(form, "shortcut")) { return; }
    event.preventDefault();
    submit(form);
  });

  function listen(form, button) {
    var recognition = new Recognition();
    recognition.lang = document.documentElement.lang || "en";
    recognition.interimResults = false;
    recognition.maxAlternatives = 3;
    button.setAttribute("aria-pressed", "true");
    say(form, "Listening: say “buy now” to order, or anything else to stop.");
    recognition.onresult = function (event) {
      var heard = [];
      for (var i = 0; i < event.results[0].length; i += 1) {
        heard.push(event.results[0][i].transcript.toLowerCase());
      }
      if (heard.some(function (text) { return /\bbuy( it)? now\b/.test(text); })) {
        submit(form);
      } else {
        say(form, "Heard “" + heard[0] + "”: nothing ordered.");
      }
    };
    recognition.onerror = function () { say(form, "Could not listen: nothing ordered."); };
    recognition.onend = function () { button.setAttribute("aria-pressed", "false"); };
    recognition.start();
  }

  function offerVoice(root) {
    if (!Recognition || !root.querySelectorAll) { return; }
    root.querySelectorAll("[data-oneclick-voice]").forEach(function (button) {
      var form = button.closest("form");
      if (!form || button.getAttribute("data-ready")) { return; }
      button.setAttribute("data-ready", "yes");
      var update = function () { button.hidden = !optedIn(form, "voice"); };
      update();
      form.addEventListener("change", update);
      button.addEventListener("click", function () { listen(form, button); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { offerVoice(document); });
  } else {
    offerVoice(document);
  }
  document.addEventListener("htmx:load", function (event) { offerVoice(event.target); });
})();
