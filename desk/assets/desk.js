// The desk's only script: listens to /events and, when told that something changed, fetches
// the changing parts of the page again (each element with a data-live address) and puts them in
// place. A notice names a report and a kind, never content; a part with data-report listens
// only to its report, and one with data-kinds only to those kinds of change. Each time the stream
// opens (the first time, and after a reconnect) every part is fetched again: a change made
// between the page's rendering and that moment, or while the stream was down, has no notice.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) {
    return;
  }
  var parts = Array.prototype.slice.call(document.querySelectorAll("[data-live]")).map(function (element) {
    var kinds = element.getAttribute("data-kinds");
    return {
      element: element,
      source: element.getAttribute("data-live"),
      report: element.getAttribute("data-report"),
      kinds: kinds ? kinds.split(",") : null,
      timer: null
    };
  });
  if (parts.length === 0) {
    return;
  }

  function refresh(part) {
    var element = part.element;
    // Never pull a form from under an officer who is using it: try again shortly.
    if (element.contains(document.activeElement) && document.activeElement !== document.body) {
      schedule(part, 2000);
      return;
    }
    fetch(part.source, { headers: { "X-Desk-Fragment": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/login");
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (typeof html === "string") {
          element.innerHTML = html;
        }
      })
      .catch(function () {});
  }

  function schedule(part, delay) {
    if (part.timer === null) {
      part.timer = window.setTimeout(function () {
        part.timer = null;
        refresh(part);
      }, delay);
    }
  }

  var events = new EventSource("/events");
  events.addEventListener("open", function () {
    parts.forEach(function (part) {
      schedule(part, 0);
    });
  });
  events.addEventListener("change", function (event) {
    var change = {};
    try {
      change = JSON.parse(event.data);
    } catch (e) {
      change = {};
    }
    parts.forEach(function (part) {
      // A notice without a report or a kind (a page that fell behind) refreshes every part.
      if (part.report && change.report && change.report !== part.report) {
        return;
      }
      if (part.kinds && change.kind && part.kinds.indexOf(change.kind) < 0) {
        return;
      }
      schedule(part, 250);
    });
  });
})();
