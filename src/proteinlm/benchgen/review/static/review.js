// Keyboard shortcuts of the review pages (the keys are listed on each page).
// Question page: A accept, R reject (then 1-7 picks a reason, Enter rejects, Esc leaves), E edit,
// S skip, N next, L list. Edit page: Ctrl+Enter saves, Esc cancels. Keys typed into a text field
// are text, not shortcuts.
"use strict";
(function () {
  function byId(id) { return document.getElementById(id); }
  function click(id) { var el = byId(id); if (el) { el.click(); return true; } return false; }
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && !/^(radio|checkbox|button|submit)$/.test(target.type));
  }
  var rejecting = false;
  function setRejecting(on) {
    rejecting = on;
    var form = byId("reject-form");
    if (form) { form.classList.toggle("active", on); }
    if (on) {
      var first = form && form.querySelector("input[name=reason]:checked, input[name=reason]");
      if (first) { first.focus(); }
    } else if (document.activeElement) {
      document.activeElement.blur();
    }
  }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.metaKey) { return; }
    var key = event.key;
    var editForm = byId("edit-form");
    if (editForm) {
      if (key === "Enter" && event.ctrlKey) { event.preventDefault(); editForm.requestSubmit(); }
      else if (key === "Escape") { event.preventDefault(); click("cancel"); }
      return;
    }
    if (event.ctrlKey) { return; }
    if (key === "Escape") { setRejecting(false); return; }
    if (rejecting) {
      var reasons = document.querySelectorAll("#reject-form input[name=reason]");
      var n = parseInt(key, 10);
      if (n >= 1 && n <= reasons.length && !typing(event.target)) {
        event.preventDefault();
        reasons[n - 1].checked = true;
        reasons[n - 1].focus();
        if (reasons[n - 1].value === "other") { byId("note").focus(); }
        return;
      }
      if (key === "Enter") { event.preventDefault(); byId("reject-form").requestSubmit(); return; }
      if (typing(event.target)) { return; }
    }
    if (typing(event.target)) { return; }
    var lower = key.length === 1 ? key.toLowerCase() : key;
    var handled = true;
    if (lower === "a") { handled = click("accept"); }
    else if (lower === "r") { handled = !!byId("reject-form"); if (handled) { setRejecting(true); } }
    else if (lower === "e") { handled = click("edit"); }
    else if (lower === "s") { handled = click("skip"); }
    else if (lower === "n" || lower === "l") {
      var link = document.querySelector("nav a[data-key=" + lower + "]");
      handled = !!link; if (link) { link.click(); }
    } else { handled = false; }
    if (handled) { event.preventDefault(); }
  });
  // says the keys work now (a script loads after the page shows; tests wait for this)
  document.documentElement.setAttribute("data-shortcuts", "on");
  document.addEventListener("DOMContentLoaded", function () {
    var form = byId("reject-form");
    if (form) {
      // a click into the reject form is the same as pressing R
      form.addEventListener("focusin", function () { rejecting = true; form.classList.add("active"); });
    }
  });
})();
