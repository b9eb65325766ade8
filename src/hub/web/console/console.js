// The organiser console's only script (served at /console/console.js): every element
// with data-live="URL" is refreshed from that URL (an HTML fragment) every 4 seconds while
// the page is open. Without JavaScript the pages show the same figures on reload.
(function () {
  "use strict";
  // A table wider than its region gets a visible sign that it scrolls (class "overflows").
  function markOverflow() {
    document.querySelectorAll(".scroll").forEach(function (region) {
      region.classList.toggle("overflows", region.scrollWidth > region.clientWidth + 1);
    });
  }
  markOverflow();
  window.addEventListener("resize", markOverflow);
  window.setInterval(markOverflow, 1000);
  var regions = document.querySelectorAll("[data-live]");
  if (!regions.length || !window.fetch) { return; }
  function refresh(region) {
    return fetch(region.getAttribute("data-live"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // A session that ended redirects to the login page: show it.
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload();
          return;
        }
        if (!response.ok) { return; }
        return response.text().then(function (html) {
          // Keep an open <details> open across refreshes.
          var open = region.querySelector("details[open]") !== null;
          region.innerHTML = html;
          if (open) {
            var details = region.querySelector("details");
            if (details) { details.open = true; }
          }
        });
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(function () {
    regions.forEach(refresh);
  }, 4000);
})();
