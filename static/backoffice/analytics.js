/* The analytics report's charts (templates/backoffice/analytics_results.html).
 *
 * The figures come from the JSON block #nexus-analytics-data, the same numbers as the tables
 * under each chart. Drawn on load and again whenever Wagtail swaps the results in after a
 * filter change (its "w-swap:success" event). No inline script, no eval: fine under a strict
 * Content-Security-Policy.
 */
(function () {
  "use strict";

  function colour(name, fallback) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function thousands(value) {
    return Number(value).toLocaleString("en-GB");
  }

  function configs(data) {
    var primary = colour("--w-color-secondary", "#007d7e");
    var warning = colour("--w-color-critical-200", "#cd4444");
    var quiet = !window.matchMedia || window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    function base(type, datasets, yOptions) {
      return {
        type: type,
        data: { labels: data.labels, datasets: datasets },
        options: {
          animation: quiet ? false : undefined,
          maintainAspectRatio: false,
          responsive: true,
          scales: { y: Object.assign({ beginAtZero: true }, yOptions || {}) },
          plugins: { legend: { display: datasets.length > 1 } },
        },
      };
    }
    return {
      occupancy: base(
        "bar",
        [{ label: "Occupancy (%)", data: data.occupancy, backgroundColor: primary }],
        { suggestedMax: 100, ticks: { callback: function (v) { return v + " %"; } } }
      ),
      revenue: base(
        "bar",
        [{ label: "Revenue (KES)", data: data.revenue, backgroundColor: primary }],
        { ticks: { callback: function (v) { return "KES " + thousands(v); } } }
      ),
      bookings: base(
        "bar",
        [
          { label: "Bookings", data: data.bookings, backgroundColor: primary },
          { label: "Cancellations", data: data.cancellations, backgroundColor: warning },
        ],
        { ticks: { precision: 0 } }
      ),
    };
  }

  function draw() {
    var source = document.getElementById("nexus-analytics-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var charts = configs(JSON.parse(source.textContent));
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var existing = window.Chart.getChart(canvas);
      if (existing) {
        existing.destroy();
      }
      var config = charts[canvas.dataset.chart];
      if (config) {
        new window.Chart(canvas, config);
      }
    });
  }

  document.addEventListener("w-swap:success", draw);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
