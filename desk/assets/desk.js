// The desk's only script: listens to /events and, when told that something changed, fetches
// the changing part of the page again (#live, from its data-live address) and puts it in place.
// A notice names a report and a kind, never content; a report page listens only to its report.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var source = live.getAttribute("data-live");
  var only = live.getAttribute("data-report");
  var timer = null;

  function refresh() {
    // Never pull a form from under an officer who is using it: try again shortly.
    if (live.contains(document.activeElement) && document.activeElement !== document.body) {
      schedule(2000);
      return;
    }
    fetch(source, { headers: { "X-Desk-Fragment": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/login");
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (typeof html === "string") {
          live.innerHTML = html;
        }
      })
      .catch(function () {});
  }

  function schedule(delay) {
    if (timer === null) {
      timer = window.setTimeout(function () {
        timer = null;
        refresh();
      }, delay);
    }
  }

  var events = new EventSource("/events");
  events.addEventListener("change", function (event) {
    var change = {};
    try {
      change = JSON.parse(event.data);
    } catch (e) {
      change = {};
    }
    if (only && change.report && change.report !== only) {
      return;
    }
    schedule(250);
  });
})();
