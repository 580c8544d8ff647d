/* The listing page: focus the search's error summary, and the results map.
 *
 * The map's data (one point per result on this page with coordinates) and every word it
 * shows come from the page (json_script "results-map-points" and "results-map-config"),
 * translated by the template: nothing here is in English, and no extra request is made.
 * Markers are Leaflet divIcons showing the price; a marker is a focusable button
 * (Leaflet's keyboard support: Tab to it, Enter opens its popup) whose popup names the
 * stay and links to it. On a phone the map and the list take turns behind a
 * "Show map" / "Show list" button; from 1024 px the map sits beside the list.
 */
(function () {
  "use strict";

  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) {
    // Read out once by screen readers as the focused element, not also as a live region.
    summary.focus();
  }

  var section = document.getElementById("results");
  var container = document.getElementById("results-map");
  var pointsScript = document.getElementById("results-map-points");
  var configScript = document.getElementById("results-map-config");
  if (!section || !container || !pointsScript || !configScript) {
    return;
  }
  if (typeof window.L === "undefined") {
    // The desktop layout keeps a column for the map from the first paint (search.css);
    // with no map library, the list takes the width back.
    section.classList.add("map-unavailable");
    return;
  }
  var L = window.L;
  var points = JSON.parse(pointsScript.textContent);
  var config = JSON.parse(configScript.textContent);
  if (!points.length) {
    section.classList.add("map-unavailable");
    return;
  }

  section.classList.add("map-ready");
  var map = L.map(container, { scrollWheelZoom: false, keyboard: true });
  L.tileLayer(config.tileUrl, { maxZoom: 19, attribution: config.attribution }).addTo(map);

  function popupContent(point) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var title = document.createElement("p");
    title.className = "map-popup-title";
    title.textContent = point.title;
    var price = document.createElement("p");
    price.className = "map-popup-price";
    price.textContent = point.price + " " + config.perNight;
    var link = document.createElement("a");
    link.className = "map-popup-link";
    link.href = point.url;
    link.textContent = config.viewStay;
    box.appendChild(title);
    box.appendChild(price);
    box.appendChild(link);
    return box;
  }

  // The view first: Leaflet adds a marker's element only to a map that has one.
  var bounds = points.map(function (point) { return [point.lat, point.lng]; });
  function frame() {
    if (bounds.length === 1) {
      map.setView(bounds[0], 13, { animate: false });
    } else {
      map.fitBounds(bounds, { padding: [36, 36], maxZoom: 14, animate: false });
    }
  }
  frame();

  points.forEach(function (point) {
    var icon = L.divIcon({
      className: "price-marker",
      html: "<span></span>",
      iconSize: null,
    });
    var marker = L.marker([point.lat, point.lng], {
      icon: icon,
      keyboard: true,
      title: point.title + ", " + point.price,
      alt: point.title,
      riseOnHover: true,
    }).addTo(map);
    var element = marker.getElement();
    if (element) {
      element.querySelector("span").textContent = point.price;
      element.setAttribute("role", "button");
      element.setAttribute("aria-label", point.title + ", " + point.price + " " + config.perNight);
      element.dataset.listingId = String(point.id);
    }
    marker.bindPopup(popupContent(point));
    marker.on("popupopen", function () {
      var card = document.getElementById("listing-" + point.id);
      if (card) card.classList.add("is-highlighted");
    });
    marker.on("popupclose", function () {
      var card = document.getElementById("listing-" + point.id);
      if (card) card.classList.remove("is-highlighted");
    });
  });

  // Phones: the button switches between the list and the map.
  var toggle = document.getElementById("map-toggle");
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var showMap = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", showMap ? "true" : "false");
      toggle.textContent = showMap ? config.showList : config.showMap;
      section.classList.toggle("show-map", showMap);
      if (showMap) {
        // Leaflet measures its box when shown: it was display:none until now.
        map.invalidateSize();
        frame();
      }
    });
  }
  // From one layout to the other (a phone turned, a window resized), Leaflet measures again.
  window.addEventListener("resize", function () {
    map.invalidateSize();
  });
})();
