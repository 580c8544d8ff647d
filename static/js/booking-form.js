// Property page: the live price (price x nights = total), an early warning for
// booked nights or a too-short stay, and one name row per co-guest.
// The server re-checks everything when the form is posted; this only saves a round trip.
(function () {
  "use strict";
  var form = document.getElementById("booking-form");
  if (!form) return;
  var config = JSON.parse(document.getElementById("booking-config").textContent);
  var taken = JSON.parse(document.getElementById("unavailable-ranges").textContent);
  var checkIn = form.querySelector("[name=check_in]");
  var checkOut = form.querySelector("[name=check_out]");
  var guests = form.querySelector("[name=guests]");
  var quote = document.getElementById("quote");
  var warning = document.getElementById("date-warning");
  var rows = document.getElementById("co-guest-rows");
  var fieldset = document.getElementById("co-guests");
  var template = document.getElementById("co-guest-template");
  var totalForms = form.querySelector("[name=guest-TOTAL_FORMS]");
  var DAY = 86400000;

  function parse(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : null;
  }
  function iso(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function kes(n) { return "KES " + String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function pretty(ms) {
    return new Date(ms).toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
  }

  function takenNights(start, end) {
    var clash = [];
    taken.forEach(function (r) {
      var a = parse(r[0]), b = parse(r[1]);
      if (a < end && b > start) clash.push([Math.max(a, start), Math.min(b, end)]);
    });
    return clash;
  }

  function markCalendar(start, end) {
    document.querySelectorAll(".calendar .day[data-date]").forEach(function (cell) {
      var d = parse(cell.getAttribute("data-date"));
      cell.classList.toggle("day-selected", start !== null && end !== null && d >= start && d < end);
    });
  }

  function update() {
    var start = parse(checkIn.value), end = parse(checkOut.value);
    var problems = [];
    if (start !== null) {
      checkOut.min = iso(start + config.minNights * DAY);
    }
    if (start === null || end === null || end <= start) {
      quote.innerHTML = '<p class="muted quote-empty">' +
        (start !== null && end !== null ? "Check-out must be after check-in." : "Choose your dates to see the total.") + "</p>";
      markCalendar(null, null);
      showWarning([]);
      return true;
    }
    var nights = Math.round((end - start) / DAY);
    var total = nights * config.pricePerNight;
    quote.innerHTML =
      '<div class="quote-line"><span>' + kes(config.pricePerNight) + " × " + nights + " night" + (nights === 1 ? "" : "s") +
      "</span><span>" + kes(total) + "</span></div>" +
      '<div class="quote-total"><span>Total</span><span data-quote-total="' + total + '">' + kes(total) + "</span></div>";
    markCalendar(start, end);
    if (nights < config.minNights) {
      problems.push("This place has a minimum stay of " + config.minNights + " nights.");
    }
    var clash = takenNights(start, end);
    if (clash.length) {
      problems.push("Some of these nights are already booked (" + clash.map(function (c) {
        return pretty(c[0]) + (c[1] - c[0] > DAY ? " – " + pretty(c[1] - DAY) : "");
      }).join(", ") + "). Please choose other dates: the calendar shows what is free.");
    }
    showWarning(problems);
    return problems.length === 0;
  }

  function showWarning(problems) {
    warning.hidden = problems.length === 0;
    warning.textContent = problems.join(" ");
  }

  function syncGuestRows() {
    var wanted = Math.max(parseInt(guests.value, 10) - 1, 0);
    var current = rows.querySelectorAll("[data-row]");
    for (var i = current.length; i < wanted; i++) {
      var html = template.innerHTML.replace(/__prefix__/g, String(i)).replace(/__number__/g, String(i + 2));
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      rows.appendChild(holder.firstElementChild);
    }
    for (var j = current.length - 1; j >= wanted; j--) {
      current[j].remove();
    }
    totalForms.value = String(wanted);
    fieldset.hidden = wanted === 0;
  }

  // Clicking free days on the calendar picks check-in, then check-out.
  var picking = "in";
  document.querySelectorAll(".calendar .day-free, .calendar .day-taken").forEach(function (cell) {
    cell.addEventListener("click", function () {
      var date = cell.getAttribute("data-date");
      if (picking === "in" || (checkIn.value && date <= checkIn.value)) {
        checkIn.value = date;
        checkOut.value = "";
        picking = "out";
      } else {
        checkOut.value = date;
        picking = "in";
      }
      update();
    });
  });

  checkIn.addEventListener("change", function () {
    var start = parse(checkIn.value), end = parse(checkOut.value);
    if (start !== null && (end === null || end <= start)) {
      checkOut.value = iso(start + config.minNights * DAY);
    }
    update();
  });
  checkOut.addEventListener("change", update);
  checkIn.addEventListener("input", update);
  checkOut.addEventListener("input", update);
  guests.addEventListener("change", syncGuestRows);

  form.addEventListener("submit", function (event) {
    if (!update()) {
      event.preventDefault();
      warning.setAttribute("tabindex", "-1");
      warning.focus();
    }
  });

  // The phone-sized "Reserve" bar at the bottom gets out of the way once the form is on screen.
  var bar = document.querySelector(".mobile-book-bar");
  if (bar && "IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      bar.classList.toggle("is-hidden", entries[0].isIntersecting);
    }).observe(document.getElementById("book"));
  }

  var errors = document.getElementById("booking-errors");
  if (errors) {
    document.getElementById("book").scrollIntoView({ block: "start" });
    errors.focus();
  }
  syncGuestRows();
  update();
})();
