// Property page: the live price, an early warning for booked nights or a too-short stay,
// and one name row per co-guest. The price comes from the server's quote endpoint, which
// prices nights (season, weekend, discount) with the same function as the booking: this
// file never works out a price. The server re-checks everything when the form is posted.
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
  var quoteRequest = null;
  // The dates the quote on screen is for ("2027-01-10/2027-01-13"): the server renders one
  // when the page is opened with dates, so it is not asked again for them.
  var quoteFor = quote.getAttribute("data-quoted") || "";

  function parse(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : null;
  }
  function iso(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function kes(n) { return "KES " + String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function escape(text) {
    var holder = document.createElement("span");
    holder.textContent = text;
    return holder.innerHTML;
  }

  // The same markup as templates/listings/includes/quote.html, from GET .../quote/.
  function renderQuote(data) {
    var lines = [], counts = {};
    data.nightly_prices.forEach(function (night) {
      if (!(night.price in counts)) { counts[night.price] = 0; lines.push(night.price); }
      counts[night.price] += 1;
    });
    var html = lines.map(function (price) {
      var n = counts[price];
      return '<div class="quote-line"><span>' + kes(price) + " × " + n + " night" + (n === 1 ? "" : "s") +
        "</span><span>" + kes(price * n) + "</span></div>";
    }).join("");
    if (data.discount) {
      var kind = data.nights >= 28 ? "Monthly" : "Weekly";
      html += '<div class="quote-line quote-discount"><span>' + kind + " discount (" + data.discount_percent +
        "%)</span><span>\u2212" + kes(data.discount) + "</span></div>";
    }
    html += '<div class="quote-total"><span>Total</span><span data-quote-total="' + data.total_price + '">' +
      kes(data.total_price) + "</span></div>";
    quote.innerHTML = html;
  }

  function fetchQuote(start, end) {
    var key = iso(start) + "/" + iso(end);
    if (key === quoteFor) return;
    quoteFor = key;
    if (quoteRequest) quoteRequest.abort();
    quoteRequest = "AbortController" in window ? new AbortController() : null;
    quote.setAttribute("aria-busy", "true");
    var url = config.quoteUrl + "?check_in=" + iso(start) + "&check_out=" + iso(end);
    fetch(url, { headers: { Accept: "application/json" }, signal: quoteRequest ? quoteRequest.signal : undefined })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (quoteFor !== key) return;
        quote.removeAttribute("aria-busy");
        if (answer.ok) {
          renderQuote(answer.body);
        } else {
          var messages = [];
          Object.keys(answer.body || {}).forEach(function (field) {
            messages = messages.concat(answer.body[field]);
          });
          quote.innerHTML = '<p class="muted quote-empty">' + escape(messages.join(" ") || "No price for these dates.") + "</p>";
        }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        if (quoteFor !== key) return;
        quoteFor = "";
        quote.removeAttribute("aria-busy");
        quote.innerHTML = '<p class="muted quote-empty">We couldn\'t work out the price just now. ' +
          "You'll see the total before you pay.</p>";
      });
  }
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
      quoteFor = "";
      if (quoteRequest) quoteRequest.abort();
      quote.innerHTML = '<p class="muted quote-empty">' +
        (start !== null && end !== null ? "Check-out must be after check-in." : "Choose your dates to see the total.") + "</p>";
      markCalendar(null, null);
      showWarning([]);
      return true;
    }
    var nights = Math.round((end - start) / DAY);
    fetchQuote(start, end);
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
