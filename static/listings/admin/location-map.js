/*
 * The location map of the listing editor (listings/panels.py, LocationMapPanel).
 *
 * The latitude and longitude inputs stay the source of truth: a click on the map or a dragged
 * pin writes them (six decimals, as the model stores), and typing in them moves the pin. The
 * map adds nothing to the form, so without this script (or without map tiles, offline) the
 * fields work as before.
 */
(function () {
  "use strict";

  var DECIMALS = 6;

  function coordinate(input, limit) {
    var text = (input.value || "").trim().replace(",", ".");
    if (text === "") return null;
    var value = Number(text);
    if (!isFinite(value) || Math.abs(value) > limit) return undefined;
    return value;
  }

  function announce(input) {
    // Wagtail's unsaved-changes warning and autosave listen for these.
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function setUp(container) {
    if (container.dataset.locationMapReady) return;
    var latitudeInput = document.getElementById(container.dataset.latitudeInput);
    var longitudeInput = document.getElementById(container.dataset.longitudeInput);
    var canvas = container.querySelector(".nexus-location-map__canvas");
    var status = container.querySelector("[data-location-map-status]");
    if (!latitudeInput || !longitudeInput || !canvas || typeof L === "undefined") return;
    container.dataset.locationMapReady = "true";

    var center = container.dataset.defaultCenter.split(",").map(Number);
    var defaultZoom = Number(container.dataset.defaultZoom);
    var pinnedZoom = Number(container.dataset.pinnedZoom);

    // The page scrolls with the wheel as everywhere else in the editor; +/- and the keyboard zoom.
    var map = L.map(canvas, { scrollWheelZoom: false }).setView(center, defaultZoom);
    L.tileLayer(container.dataset.tileUrl, {
      maxZoom: 19,
      attribution: container.dataset.tileAttribution,
      // The admin sends no Referer across origins (SECURE_REFERRER_POLICY "same-origin"); the
      // OpenStreetMap tile servers refuse requests without one, so the tiles send our origin.
      referrerPolicy: "strict-origin-when-cross-origin",
    }).addTo(map);

    // Our own icon URLs: Leaflet guesses its image folder from its stylesheet, which fails once
    // collectstatic gives the files hashed names.
    var icon = L.icon({
      iconUrl: container.dataset.markerIcon,
      iconRetinaUrl: container.dataset.markerIcon2x,
      shadowUrl: container.dataset.markerShadow,
      iconSize: [25, 41],
      iconAnchor: [12, 41],
      shadowSize: [41, 41],
    });
    var marker = null;
    var writing = false; // our own change events must not re-centre the map

    function say(text) {
      if (status) status.textContent = text;
    }

    function showPin(latlng) {
      if (marker === null) {
        marker = L.marker(latlng, { draggable: true, icon: icon, title: "Property location", alt: "Property location" });
        marker.on("dragend", function () {
          var moved = marker.getLatLng().wrap();
          marker.setLatLng(moved);
          writeFields(moved);
        });
        marker.addTo(map);
      } else {
        marker.setLatLng(latlng);
      }
    }

    function removePin() {
      if (marker !== null) {
        map.removeLayer(marker);
        marker = null;
      }
    }

    function writeFields(latlng) {
      latitudeInput.value = latlng.lat.toFixed(DECIMALS);
      longitudeInput.value = latlng.lng.toFixed(DECIMALS);
      writing = true;
      try {
        announce(latitudeInput);
        announce(longitudeInput);
      } finally {
        writing = false;
      }
      say("Pin placed at " + latitudeInput.value + ", " + longitudeInput.value + ".");
    }

    function readFields(recentre) {
      var lat = coordinate(latitudeInput, 90);
      var lng = coordinate(longitudeInput, 180);
      if (lat === null && lng === null) {
        removePin();
        return;
      }
      if (typeof lat !== "number" || typeof lng !== "number") return; // half typed: wait
      showPin([lat, lng]);
      if (recentre) map.setView([lat, lng], Math.max(map.getZoom(), pinnedZoom));
    }

    map.on("click", function (event) {
      var latlng = event.latlng.wrap();
      showPin(latlng);
      writeFields(latlng);
    });
    [latitudeInput, longitudeInput].forEach(function (input) {
      input.addEventListener("change", function () {
        if (!writing) readFields(true);
      });
    });
    var clear = container.querySelector("[data-location-map-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        removePin();
        latitudeInput.value = "";
        longitudeInput.value = "";
        writing = true;
        try {
          announce(latitudeInput);
          announce(longitudeInput);
        } finally {
          writing = false;
        }
        say("Pin removed: the property has no location.");
      });
    }

    readFields(false);
    if (marker !== null) map.setView(marker.getLatLng(), pinnedZoom);
    // The editor may lay the panel out after the map measured itself (collapsed panels, tabs).
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () {
        map.invalidateSize();
      }).observe(canvas);
    }
  }

  function setUpAll() {
    document.querySelectorAll("[data-location-map]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
