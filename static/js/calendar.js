// The availability calendar as a date picker. A free day is the check-in, a later day the
// check-out; picking again starts over. Only days that make a bookable stay can be picked:
// not past days, not booked nights, not a check-in whose first nights are booked, not a
// check-out that would cross a booked night or break the minimum or maximum stay. Picking
// the check-in day again clears the choice.
//
// Keyboard: each month is an ARIA grid and the three months share ONE tab stop (a roving
// tabindex); arrows move by day and week, Home/End to the week's first and last day, Page
// Up/Down by month, Enter or Space picks. Each day's name is its full date and state, and a
// polite status line says what was picked.
//
// The booking form's date inputs are the single source of truth: a pick writes them (and
// fires "input", which static/js/booking-form.js prices), and typing in them highlights the
// range here. Without JavaScript the calendar is a plain table of what is free.
(function () {
  "use strict";
  var section = document.getElementById("availability");
  var form = document.getElementById("booking-form");
  if (!section || !form) return;
  var config = JSON.parse(document.getElementById("booking-config").textContent);
  var taken = JSON.parse(document.getElementById("unavailable-ranges").textContent).map(function (r) {
    return [parse(r[0]), parse(r[1])];
  });
  var checkIn = form.querySelector("[name=check_in]");
  var checkOut = form.querySelector("[name=check_out]");
  var status = document.getElementById("calendar-status");
  var cells = Array.prototype.slice.call(section.querySelectorAll("td[data-date]"));
  if (!cells.length) return;
  var DAY = 86400000;
  var lang = document.documentElement.lang || "en";
  var dateLocale = /^en/.test(lang) ? "en-GB" : lang;
  var byDate = {};
  cells.forEach(function (cell) {
    byDate[cell.getAttribute("data-date")] = cell;
    cell.setAttribute("data-label", cell.getAttribute("aria-label") || "");
  });
  var first = parse(cells[0].getAttribute("data-date"));
  var last = parse(cells[cells.length - 1].getAttribute("data-date"));

  function parse(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || "");
    return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : null;
  }
  function iso(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function word(name) { return section.getAttribute("data-word-" + name) || ""; }
  function message(name, values) {
    var text = section.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (key) { text = text.split("{" + key + "}").join(String(values[key])); });
    return text;
  }
  function short(ms) {
    return new Date(ms).toLocaleDateString(dateLocale, { day: "numeric", month: "short", timeZone: "UTC" });
  }
  function isPast(ms) {
    var cell = byDate[iso(ms)];
    return cell ? cell.classList.contains("day-past") : ms < first;
  }
  function nightTaken(ms) {
    for (var i = 0; i < taken.length; i++) {
      if (taken[i][0] <= ms && ms < taken[i][1]) return true;
    }
    return false;
  }
  function nightsFree(start, end) {
    for (var d = start; d < end; d += DAY) {
      if (nightTaken(d)) return false;
    }
    return true;
  }
  function canCheckIn(ms) {
    return !isPast(ms) && nightsFree(ms, ms + Math.max(config.minNights, 1) * DAY);
  }
  function canCheckOut(ms, start) {
    var nights = Math.round((ms - start) / DAY);
    return nights >= config.minNights && (!config.maxNights || nights <= config.maxNights) && nightsFree(start, ms);
  }

  // Which step a pick is: "in" (nothing or a whole stay chosen) or "out" (check-in chosen).
  function chosen() {
    var start = parse(checkIn.value), end = parse(checkOut.value);
    if (start !== null && end !== null && end <= start) end = null;
    return { start: start, end: end, step: start !== null && end === null ? "out" : "in" };
  }
  // With a check-in chosen, the days that can be picked are the check-outs that make a
  // bookable stay, and days up to the check-in (a new check-in; the check-in itself clears
  // the choice): a day past a booked night is not offered, the stay would cross it.
  function selectable(ms, state) {
    if (state.step === "out") {
      if (ms > state.start) return canCheckOut(ms, state.start);
      return ms === state.start || canCheckIn(ms);
    }
    return canCheckIn(ms);
  }

  // Paint the chosen stay, say each day's state in its name, mark what can't be picked.
  function refresh() {
    var state = chosen();
    var legend = section.querySelector(".legend-chosen");
    if (legend) legend.hidden = state.start === null;
    cells.forEach(function (cell) {
      var ms = parse(cell.getAttribute("data-date"));
      var inStay = state.start !== null && (state.end !== null ? ms >= state.start && ms < state.end : ms === state.start);
      var isOut = state.end !== null && ms === state.end;
      var ok = selectable(ms, state);
      cell.classList.toggle("day-selected", inStay);
      cell.classList.toggle("day-check-in", ms === state.start);
      cell.classList.toggle("day-check-out", isOut);
      cell.setAttribute("aria-selected", inStay || isOut ? "true" : "false");
      cell.setAttribute("aria-disabled", ok ? "false" : "true");
      var extra = [];
      if (ms === state.start) extra.push(word("check-in"));
      else if (isOut) extra.push(word("check-out"));
      else if (inStay) extra.push(word("in-stay"));
      if (!ok && cell.classList.contains("day-free")) extra.push(word(state.step === "out" ? "not-check-out" : "not-check-in"));
      cell.setAttribute("aria-label", [cell.getAttribute("data-label")].concat(extra).join(", "));
    });
  }

  function setInputs(start, end) {
    checkIn.value = start === null ? "" : iso(start);
    checkOut.value = end === null ? "" : iso(end);
    checkIn.dispatchEvent(new Event("input", { bubbles: true }));
    checkOut.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function announce(text) {
    // Cleared first, so picking the same day twice is still read out, once.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function pick(cell) {
    if (cell.getAttribute("aria-disabled") === "true") return;
    var ms = parse(cell.getAttribute("data-date"));
    var state = chosen();
    if (state.step === "out" && ms > state.start && canCheckOut(ms, state.start)) {
      setInputs(state.start, ms);
      var nights = Math.round((ms - state.start) / DAY);
      announce(message(nights === 1 ? "check-out-one" : "check-out-other", { date: short(ms), nights: nights }));
    } else if (state.step === "out" && ms === state.start) {
      setInputs(null, null);
      announce(message("restart"));
    } else {
      setInputs(ms, null);
      announce(message("check-in", { date: short(ms) }));
    }
    refresh();
    focusCell(cell, false);
  }

  // One tab stop: the day that has it is the only one with tabindex=0.
  var current = null;
  function focusCell(cell, move) {
    if (current && current !== cell) current.setAttribute("tabindex", "-1");
    current = cell;
    cell.setAttribute("tabindex", "0");
    if (move) cell.focus();
  }
  function moveTo(ms) {
    ms = Math.min(Math.max(ms, first), last);
    var cell = byDate[iso(ms)];
    if (cell) focusCell(cell, true);
  }
  function addMonths(ms, n) {
    var d = new Date(ms);
    var year = d.getUTCFullYear(), month = d.getUTCMonth() + n;
    var lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    return Date.UTC(year, month, Math.min(d.getUTCDate(), lastDay));
  }

  section.querySelectorAll("table.calendar").forEach(function (table) {
    table.setAttribute("role", "grid");
    table.setAttribute("aria-describedby", "calendar-help");
    table.classList.add("calendar-picker");
  });
  var keys = section.querySelector(".calendar-keys");
  if (keys) keys.hidden = false;
  cells.forEach(function (cell) {
    cell.setAttribute("tabindex", "-1");
    cell.addEventListener("click", function () { pick(cell); });
    cell.addEventListener("keydown", function (event) {
      var ms = parse(cell.getAttribute("data-date"));
      var weekday = (new Date(ms).getUTCDay() + 6) % 7; // Monday 0
      var target = null;
      switch (event.key) {
        case "ArrowLeft": target = ms - DAY; break;
        case "ArrowRight": target = ms + DAY; break;
        case "ArrowUp": target = ms - 7 * DAY; break;
        case "ArrowDown": target = ms + 7 * DAY; break;
        case "Home": target = ms - weekday * DAY; break;
        case "End": target = ms + (6 - weekday) * DAY; break;
        case "PageUp": target = addMonths(ms, -1); break;
        case "PageDown": target = addMonths(ms, 1); break;
        case "Enter":
        case " ":
          event.preventDefault();
          pick(cell);
          return;
        default:
          return;
      }
      event.preventDefault();
      moveTo(target);
    });
  });

  // Typing dates in the form highlights them here.
  [checkIn, checkOut].forEach(function (input) {
    input.addEventListener("input", refresh);
    input.addEventListener("change", refresh);
  });

  refresh();
  var state = chosen();
  var start = state.start !== null && byDate[iso(state.start)];
  var firstFree = cells.filter(function (cell) { return cell.getAttribute("aria-disabled") === "false"; })[0];
  focusCell(start || firstFree || cells[0], false);
})();
