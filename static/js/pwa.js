/* Installs the service worker (core/pwa.py) and keeps the guest's offline copies private:
 * bookings kept for offline reading are deleted when the guest logs out, and whenever a
 * page is shown to someone logged out (a session that ended elsewhere). */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  var PAGES_CACHE = "nexus-pages";

  function forgetPages() {
    if (window.caches) caches.delete(PAGES_CACHE);
    if (navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage({ type: "forget-pages" });
  }

  if (document.body.getAttribute("data-signed-in") === "0") forgetPages();
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("[data-logout]")) forgetPages();
  });
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
      /* No worker (private mode, old browser): the site works the same online. */
    });
  });
})();
