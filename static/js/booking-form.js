// Property page: the live price, a check for booked nights or a stay too short or too long,
// and one name row per co-guest. The price comes from the server's quote endpoint, which
// prices nights (season, weekend, discount) with the same function as the booking: this
// file never works out a price, and never shows one for dates that cannot be booked. The
// server re-checks everything when the form is posted. Every text comes from the page
// (data-msg-* on the form), in the page's language. Picking dates on the calendar is
// static/js/calendar.js: it fills in the date inputs and fires "input" on them.
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
  var barPrice = document.getElementById("mobile-bar-price");
  var DAY = 86400000;
  var lang = document.documentElement.lang || "en";
  var dateLocale = /^en/.test(lang) ? "en-GB" : lang;
  var quoteRequest = null;
  // The dates the quote on screen is for ("2027-01-10/2027-01-13"): the server renders one
  // when the page is opened with dates, so it is not asked again for them.
  var quoteFor = quote.getAttribute("data-quoted") || "";

  function text(name, values) {
    var message = form.getAttribute("data-" + name) || "";
    Object.keys(values || {}).forEach(function (key) {
      message = message.split("{" + key + "}").join(String(values[key]));
    });
    return message;
  }
  function parse(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : null;
  }
  function iso(ms) { return new Date(ms).toISOString().slice(0, 10); }
  // "KES 10,800" in every language: the site shows money the same way in English and Kiswahili.
  function kes(n) { return "KES " + String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function escape(value) {
    var holder = document.createElement("span");
    holder.textContent = value;
    return holder.innerHTML;
  }
  function nightsText(prefix, n, values) {
    values.nights = n;
    return text(prefix + (n === 1 ? "-one" : "-other"), values);
  }

  function showMessage(message) {
    quote.innerHTML = '<p class="muted quote-empty">' + escape(message) + "</p>";
  }
  function showBar(total, nights) {
    if (!barPrice) return;
    barPrice.textContent = total === null ? barPrice.getAttribute("data-nightly") : nightsText("bar", nights, { total: kes(total) });
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
      return '<div class="quote-line"><span>' + escape(nightsText("line", n, { price: kes(price) })) +
        "</span><span>" + kes(price * n) + "</span></div>";
    }).join("");
    if (data.discount) {
      var label = text(data.nights >= 28 ? "discount-monthly" : "discount-weekly", { percent: data.discount_percent });
      html += '<div class="quote-line quote-discount"><span>' + escape(label) + "</span><span>\u2212" + kes(data.discount) + "</span></div>";
    }
    html += '<div class="quote-total"><span>' + escape(text("word-total")) + '</span><span data-quote-total="' +
      data.total_price + '">' + kes(data.total_price) + "</span></div>";
    quote.innerHTML = html;
    showBar(data.total_price, data.nights);
  }

  // The server's reason, whatever its shape: {"field": ["…"]}, {"detail": "…"} or a list.
  function serverMessage(body) {
    var messages = [];
    (function collect(value, key) {
      if (key === "code") return;
      if (typeof value === "string") messages.push(value);
      else if (Array.isArray(value)) value.forEach(function (item) { collect(item); });
      else if (value && typeof value === "object") Object.keys(value).forEach(function (k) { collect(value[k], k); });
    })(body);
    return messages.join(" ");
  }

  function cancelQuote() {
    quoteFor = "";
    if (quoteRequest) quoteRequest.abort();
    quoteRequest = null;
    quote.removeAttribute("aria-busy");
  }

  function fetchQuote(start, end) {
    var key = iso(start) + "/" + iso(end) + "/" + guests.value;
    if (key === quoteFor) return;
    var rendered = quote.getAttribute("data-quoted");
    if (rendered && key.indexOf(rendered + "/") === 0 && !quoteRequest) {
      // The server rendered this stay's price with the page.
      quoteFor = key;
      return;
    }
    quote.removeAttribute("data-quoted");
    cancelQuote();
    quoteFor = key;
    var controller = "AbortController" in window ? new AbortController() : null;
    quoteRequest = controller;
    // Nothing stale while the server is asked: the old price goes at once.
    quote.setAttribute("aria-busy", "true");
    showMessage(text("msg-loading"));
    showBar(null);
    var url = config.quoteUrl + "?check_in=" + iso(start) + "&check_out=" + iso(end) +
      "&guests=" + encodeURIComponent(guests.value || "1");
    fetch(url, { headers: { Accept: "application/json" }, signal: controller ? controller.signal : undefined })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (answer) {
        if (quoteFor !== key) return;
        quoteRequest = null;
        quote.removeAttribute("aria-busy");
        if (answer.ok) {
          renderQuote(answer.body);
        } else {
          showMessage(serverMessage(answer.body) || text("msg-no-price"));
        }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        if (quoteFor !== key) return;
        quoteFor = "";
        quoteRequest = null;
        quote.removeAttribute("aria-busy");
        showMessage(text("msg-failed"));
      });
  }
  function pretty(ms) {
    return new Date(ms).toLocaleDateString(dateLocale, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
  }

  function takenNights(start, end) {
    var clash = [];
    taken.forEach(function (r) {
      var a = parse(r[0]), b = parse(r[1]);
      if (a < end && b > start) clash.push([Math.max(a, start), Math.min(b, end)]);
    });
    return clash;
  }

  // Why these dates can't be booked ("" when they can): known here from the page, so the
  // server isn't asked for a price the booking would refuse.
  function problemWith(start, end) {
    var nights = Math.round((end - start) / DAY);
    if (nights < config.minNights) return text("msg-min");
    if (config.maxNights && nights > config.maxNights) return text("msg-max");
    var clash = takenNights(start, end);
    if (clash.length) {
      return text("msg-taken", {
        dates: clash.map(function (c) {
          return pretty(c[0]) + (c[1] - c[0] > DAY ? " – " + pretty(c[1] - DAY) : "");
        }).join(", "),
      });
    }
    return "";
  }

  function update() {
    var start = parse(checkIn.value), end = parse(checkOut.value);
    if (start !== null) {
      checkOut.min = iso(start + config.minNights * DAY);
    }
    warning.hidden = true;
    if (start === null || end === null || end <= start) {
      cancelQuote();
      quote.removeAttribute("data-quoted");
      showMessage(start !== null && end !== null ? text("msg-order") : text("msg-choose"));
      showBar(null);
      return start === null && end === null ? null : text("msg-order");
    }
    var problem = problemWith(start, end);
    if (problem) {
      cancelQuote();
      quote.removeAttribute("data-quoted");
      showMessage(problem);
      showBar(null);
      return problem;
    }
    fetchQuote(start, end);
    return "";
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

  checkIn.addEventListener("change", function () {
    var start = parse(checkIn.value), end = parse(checkOut.value);
    if (start !== null && (end === null || end <= start)) {
      checkOut.value = iso(start + config.minNights * DAY);
      checkOut.dispatchEvent(new Event("input", { bubbles: true }));
    }
    update();
  });
  checkOut.addEventListener("change", update);
  checkIn.addEventListener("input", update);
  checkOut.addEventListener("input", update);
  guests.addEventListener("change", function () {
    syncGuestRows();
    update();
  });

  form.addEventListener("submit", function (event) {
    var problem = update();
    if (problem === null) problem = text("msg-choose");
    if (problem) {
      event.preventDefault();
      warning.textContent = problem;
      warning.hidden = false;
      warning.setAttribute("tabindex", "-1");
      warning.focus();
    }
  });

  // The phone-sized bar at the bottom gets out of the way (and out of the tab order: it is
  // made invisible, not only moved) while the booking box is on screen. Its Reserve link
  // takes the keyboard to the first thing to fill in.
  var bar = document.getElementById("mobile-book-bar");
  if (bar && "IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      bar.classList.toggle("is-hidden", entries[0].isIntersecting);
    }).observe(document.getElementById("book"));
  }
  var barLink = document.getElementById("mobile-bar-reserve");
  if (barLink) {
    barLink.addEventListener("click", function (event) {
      event.preventDefault();
      var target = !checkIn.value ? checkIn : !checkOut.value ? checkOut : document.getElementById("reserve-button");
      document.getElementById("book").scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    });
  }

  // After a refused submit the server marks the fields; the keyboard goes to the first error.
  var errors = document.getElementById("booking-errors");
  var firstInvalid = form.querySelector("[aria-invalid=true]");
  if (errors || firstInvalid) {
    document.getElementById("book").scrollIntoView({ block: "start" });
    (errors || firstInvalid).focus();
  }
  syncGuestRows();
  update();
})();
