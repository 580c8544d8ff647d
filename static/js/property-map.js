// The map on a property page: OpenStreetMap tiles through the vendored Leaflet, one marker at
// the listing's area (the page rounds the coordinates; the exact address is for confirmed
// guests). Leaflet's stylesheet is loaded here, only on pages with a map, so it never holds
// up the first paint. The texts (marker title, attribution) come from the page.
(function () {
  "use strict";
  var box = document.getElementById("property-map");
  if (!box || !window.L) return;
  var lat = parseFloat(box.getAttribute("data-lat"));
  var lng = parseFloat(box.getAttribute("data-lng"));
  if (isNaN(lat) || isNaN(lng)) return;
  var css = box.getAttribute("data-css");
  if (css && !document.querySelector('link[href="' + css + '"]')) {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = css;
    document.head.appendChild(link);
  }
  if (css) {
    // Leaflet looks for its marker images next to its stylesheet; that one may still be loading.
    window.L.Icon.Default.imagePath = css.replace(/[^/]*$/, "") + "images/";
  }
  var zoom = parseInt(box.getAttribute("data-zoom"), 10) || 13;
  // No scroll-wheel zoom: scrolling down the page must not get caught by the map.
  var map = window.L.map(box, { scrollWheelZoom: false }).setView([lat, lng], zoom);
  window.L.tileLayer("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 18,
    attribution: box.getAttribute("data-attribution") || "",
  }).addTo(map);
  var title = box.getAttribute("data-marker-title") || "";
  window.L.marker([lat, lng], { title: title, alt: title, keyboard: false }).addTo(map);
  box.setAttribute("data-ready", "1");
})();
