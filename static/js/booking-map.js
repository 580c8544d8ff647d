// The check-in section's small map (templates/reservations/includes/check_in.html): Leaflet
// (vendored, static/vendor/leaflet) is fetched only when a confirmed booking shows the map,
// and a marker put at the property's approximate coordinates. booking-page.js calls
// window.nexusCheckInMap(container) when the section arrives after a payment confirms.
(function () {
  "use strict";
  var loading = null;

  function load(el) {
    if (window.L) return Promise.resolve(window.L);
    if (loading) return loading;
    loading = new Promise(function (resolve, reject) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = el.getAttribute("data-leaflet-css");
      document.head.appendChild(css);
      var script = document.createElement("script");
      script.src = el.getAttribute("data-leaflet-js");
      script.onload = function () { resolve(window.L); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
    return loading;
  }

  function draw(el) {
    if (el.getAttribute("data-ready")) return;
    el.setAttribute("data-ready", "loading");
    load(el).then(function (L) {
      var lat = parseFloat(el.getAttribute("data-lat"));
      var lon = parseFloat(el.getAttribute("data-lon"));
      L.Icon.Default.imagePath = el.getAttribute("data-leaflet-images");
      // Keyboard users get the map's own +/- controls; the page does not scroll-zoom by accident.
      var map = L.map(el, { scrollWheelZoom: false }).setView([lat, lon], 14);
      L.tileLayer("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", {
        maxZoom: 19,
        attribution: el.getAttribute("data-attribution")
      }).addTo(map);
      L.marker([lat, lon], { title: el.getAttribute("data-title"), alt: el.getAttribute("data-title") }).addTo(map);
      el.setAttribute("data-ready", "true");
    }).catch(function () {
      // No map (offline, blocked): the address and the Directions link still say where to go.
      el.hidden = true;
    });
  }

  window.nexusCheckInMap = function (root) {
    (root || document).querySelectorAll("#check-in-map").forEach(draw);
  };
  window.nexusCheckInMap(document);
})();
