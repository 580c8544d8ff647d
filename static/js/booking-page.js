// Booking page: hold countdown, the pay form (posted to the site's pay view), and a live
// panel that follows the payment from "check your phone" to paid or failed, while the
// booking's status and balance update without a reload; the refunds of a cancelled
// booking follow the same way, and "Cancel this booking" opens a confirmation dialog with
// the refund asked fresh from the API (without JavaScript the link opens a confirmation page).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("booking-page-config").textContent);
  var form = document.getElementById("pay-form");
  var payArea = document.getElementById("pay-area");
  var progress = document.getElementById("progress");
  var retry = document.getElementById("retry-button");
  var payButton = document.getElementById("pay-button");
  var payErrors = document.getElementById("pay-errors");
  var FAST = 1500, IDLE = 10000, REFUNDS = 3000;
  var timer = null;
  var currentPayment = config.shownPaymentId;
  var lastStatus = config.status;
  var finished = { CONFIRMED: true, CANCELED: true };
  var refundsOpen = !!config.refundsOpen;

  function kes(n) { return "KES " + String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function csrfToken() {
    var input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- Hold countdown -------------------------------------------------------------------
  // Counts down from the server's figure (not the device clock), resynced on every poll.
  var hold = document.getElementById("hold");
  var holdDeadline = null;
  var holdTimer = null;
  function setHold(seconds) {
    holdDeadline = seconds ? Date.now() + seconds * 1000 : null;
    hold.hidden = !seconds;
    clearTimeout(holdTimer);
    tickHold();
  }
  function tickHold() {
    if (holdDeadline === null) return;
    var left = Math.max(Math.round((holdDeadline - Date.now()) / 1000), 0);
    var countdown = document.getElementById("hold-countdown");
    if (left > 0) {
      var m = Math.floor(left / 60), s = left % 60;
      countdown.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      holdTimer = setTimeout(tickHold, 1000);
    } else {
      countdown.textContent = "0:00";
      holdDeadline = null;
      poll(0);
    }
  }
  setHold(config.holdSecondsLeft);

  // --- Booking figures ---------------------------------------------------------------------
  function applyBooking(b) {
    var badge = document.getElementById("status-badge");
    badge.className = "badge badge-" + b.status;
    badge.textContent = b.status_label;
    badge.setAttribute("data-status", b.status);
    document.getElementById("booking").setAttribute("data-status", b.status);
    document.getElementById("status-notice").textContent = b.notice;
    ["total_price", "amount_paid", "balance_due"].forEach(function (key) {
      document.querySelectorAll('[data-field="' + key + '"]').forEach(function (el) { el.textContent = kes(b[key]); });
    });
    document.querySelectorAll('[data-field="max_payable"]').forEach(function (el) {
      el.textContent = String(b.max_payable).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    });
    var full = document.getElementById("full-balance-chip");
    if (full) full.setAttribute("data-amount", b.max_payable);
    if (form) {
      var amount = form.querySelector("[name=amount]");
      amount.max = b.max_payable || 1;
      amount.min = b.min_payable || 1;
      var help = document.getElementById("amount-help");
      if (help) {
        help.textContent = b.min_payable > 1
          ? "At least " + kes(b.min_payable) + " (the deposit this place asks for), at most " + kes(b.max_payable) + "."
          : "Any amount up to " + kes(b.max_payable) + ".";
      }
      var deposit = form.querySelector(".chip:not(#full-balance-chip)");
      if (deposit && !b.deposit_amount) deposit.remove();
    }
    if (b.hold_seconds_left === null || Math.abs((holdDeadline || 0) - Date.now() - b.hold_seconds_left * 1000) > 3000) {
      setHold(b.hold_seconds_left);
    }
    // Controls the services allow only before any payment (or while the booking is
    // active) go away as soon as that stops being true, not on the next reload.
    var unpaid = b.status === "PENDING" && b.amount_paid === 0 && b.in_flight_amount === 0;
    document.querySelectorAll("[data-while-unpaid]").forEach(function (el) { el.hidden = !unpaid; });
    var active = b.status !== "CANCELED";
    document.querySelectorAll("[data-while-active]").forEach(function (el) { el.hidden = !active; });
    if (b.status === "CONFIRMED") {
      document.getElementById("paid-in-full-live").hidden = false;
    }
    lastStatus = b.status;
    return b;
  }

  // --- The payment panel -----------------------------------------------------------------------
  function showProgress(p, booking) {
    progress.hidden = false;
    progress.className = "progress-panel progress-" + p.phase;
    progress.setAttribute("data-phase", p.phase);
    document.getElementById("progress-title").textContent = p.title;
    document.getElementById("progress-message").textContent = p.message;
    var canPayAgain = booking ? booking.payable : true;
    retry.hidden = !(p.final && p.phase !== "paid" && canPayAgain);
    if (form) {
      // While a prompt is out, the form stays hidden; once settled the guest can pay (the rest) again.
      form.hidden = !p.final || !canPayAgain;
      if (p.final && p.phase === "paid" && booking && booking.payable) {
        form.querySelector("[name=amount]").value = booking.max_payable;
      }
    }
  }

  function poll(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  function refresh() {
    var url = config.statusUrl + (currentPayment ? "?payment=" + encodeURIComponent(currentPayment) : "");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (data) {
        var b = applyBooking(data.booking);
        if (data.payment) {
          showProgress(data.payment, b);
          if (data.payment.final) currentPayment = null;
        } else if (form) {
          form.hidden = !b.payable;
        }
        if (payArea) payArea.hidden = !b.payable && progress.hidden;
        if (data.refunds) applyRefunds(data.refunds, data.refunds_summary);
        if (currentPayment) poll(FAST);
        else if (refundsOpen) poll(REFUNDS);
        else if (!finished[b.status]) poll(IDLE);
      })
      .catch(function () { poll(currentPayment ? FAST * 2 : IDLE); });
  }

  // --- Paying ------------------------------------------------------------------------------
  function clearErrors() {
    payErrors.hidden = true;
    payErrors.innerHTML = "";
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }
  // A field's error: shown under it, the field marked invalid and pointing at the message
  // (screen readers read it with the field), and focus moved to the first such field.
  function fieldError(field, text) {
    var message = form.querySelector('[data-error-for="' + field + '"]');
    var input = form.querySelector("[name=" + field + "]");
    message.textContent = text;
    input.setAttribute("aria-invalid", "true");
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(message.id) === -1) described.push(message.id);
    input.setAttribute("aria-describedby", described.join(" "));
    return input;
  }
  function focusFirstError() {
    var invalid = form.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
    else if (!payErrors.hidden) payErrors.focus();
  }
  function showError(text) {
    var p = document.createElement("p");
    p.textContent = text;
    payErrors.appendChild(p);
    payErrors.hidden = false;
  }

  function submitPayment() {
    clearErrors();
    var phone = form.querySelector("[name=phone_number]").value.trim();
    var amount = parseInt(form.querySelector("[name=amount]").value, 10);
    if (!phone) {
      fieldError("phone_number", "Enter the M-Pesa phone number to send the prompt to.").focus();
      return;
    }
    if (!(amount >= 1)) {
      fieldError("amount", "Enter an amount in whole shillings.").focus();
      return;
    }
    payButton.disabled = true;
    retry.disabled = true;
    // The site's pay view: it applies the payments API's throttles, and also puts back a
    // booking that a failed payment cancelled (so "Try again" works).
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: new FormData(form)
    })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
      })
      .then(function (res) {
        var body = res.body || {};
        if (res.status === 202 && body.payment) {
          currentPayment = body.payment.id;
          var b = applyBooking(body.booking);
          form.hidden = true;
          showProgress(body.payment, b);
          poll(FAST);
          return;
        }
        var errors = body.errors || {};
        var fieldShown = false;
        ["phone_number", "amount"].forEach(function (field) {
          if (errors[field]) {
            fieldError(field, [].concat(errors[field]).join(" "));
            fieldShown = true;
          }
        });
        if (body.detail && !(fieldShown && body.code === "invalid")) showError(body.detail);
        else if (!fieldShown) showError("Something went wrong sending the payment request. Nothing was charged; please try again.");
        form.hidden = false;
        progress.hidden = true;
        focusFirstError();
        poll(0);
      })
      .catch(function () {
        showError("We couldn't reach Nexus. Check your internet connection and try again. Nothing was charged.");
        form.hidden = false;
      })
      .then(function () { payButton.disabled = false; retry.disabled = false; });
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitPayment();
    });
    form.querySelectorAll(".chip").forEach(function (chip) {
      chip.addEventListener("click", function () {
        form.querySelector("[name=amount]").value = chip.getAttribute("data-amount");
      });
    });
    retry.addEventListener("click", function () {
      retry.hidden = true;
      submitPayment();
    });
  }

  // --- Refunds (templates/mpesa/includes/refunds.html) --------------------------------------
  function applyRefunds(refunds, summary) {
    var list = document.getElementById("refund-list");
    refundsOpen = !!(summary && summary.open);
    if (!list) {
      // Refunds appeared while the page was open (cancelled from elsewhere): reload once to show them.
      if (refunds.length && !document.getElementById("refunds")) window.location.reload();
      return;
    }
    list.textContent = "";
    refunds.forEach(function (r) {
      var item = document.createElement("li");
      item.className = "refund-item refund-" + r.phase;
      item.setAttribute("data-refund-id", r.id);
      item.setAttribute("data-phase", r.phase);
      var what = document.createElement("span");
      what.textContent = kes(r.amount) + " · " + r.method + " to " + r.phone;
      var state = document.createElement("span");
      state.className = "refund-state";
      state.textContent = r.title + (r.receipt ? " · " + r.receipt : "");
      var message = document.createElement("span");
      message.className = "refund-message muted";
      message.textContent = r.message;
      item.appendChild(what);
      item.appendChild(state);
      item.appendChild(message);
      list.appendChild(item);
    });
    var line = document.getElementById("refunds-summary");
    if (line && summary) {
      line.setAttribute("data-done", summary.done ? "true" : "false");
      line.textContent = summary.done
        ? kes(summary.total) + " has been refunded to " + summary.phones + "."
        : kes(summary.total) + " will be refunded to " + summary.phones + ", the phone that paid.";
    }
  }

  // --- Cancelling: the confirmation dialog ------------------------------------------------------
  var cancelButton = document.getElementById("cancel-button");
  var cancelDialog = document.getElementById("cancel-dialog");
  if (cancelButton && cancelDialog && typeof cancelDialog.showModal === "function") {
    var confirmButton = document.getElementById("cancel-confirm");
    var refusal = document.getElementById("cancel-refusal");
    var terms = document.getElementById("cancel-dialog-terms");
    var setField = function (name, text) {
      terms.querySelectorAll('[data-cancel-field="' + name + '"]').forEach(function (el) { el.textContent = text; });
    };
    var fillTerms = function (t) {
      setField("amount_paid", kes(t.amount_paid));
      setField("refund_amount", kes(t.refund_amount));
      setField("kept_amount", kes(t.kept_amount));
      setField("explanation", t.explanation);
      terms.querySelectorAll("[data-cancel-kept]").forEach(function (el) { el.hidden = !t.kept_amount; });
      document.querySelector('#cancel-confirm-form [name="expected_refund"]').value = t.refund_amount;
      confirmButton.textContent = t.refund_amount ? "Yes, cancel and refund " + kes(t.refund_amount) : "Yes, cancel";
    };
    cancelButton.addEventListener("click", function (event) {
      event.preventDefault();
      refusal.hidden = true;
      terms.hidden = false;
      confirmButton.hidden = false;
      confirmButton.disabled = true;
      cancelDialog.showModal();
      // The refund as it is now: a payment may have landed since the page was drawn.
      fetch(config.cancellationUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
        })
        .then(function (res) {
          if (res.status === 200) {
            fillTerms(res.body);
            confirmButton.disabled = false;
          } else {
            refusal.textContent = (res.body && res.body.detail) || "This booking can't be cancelled right now.";
            refusal.hidden = false;
            terms.hidden = true;
            confirmButton.hidden = true;
          }
        })
        .catch(function () {
          // Offline: the figures drawn with the page stand; the server checks them on confirm.
          confirmButton.disabled = false;
        });
    });
    document.getElementById("cancel-keep").addEventListener("click", function () { cancelDialog.close(); });
    cancelDialog.addEventListener("close", function () { cancelButton.focus(); });
  }

  if (currentPayment) poll(FAST);
  else if (refundsOpen) poll(REFUNDS);
  else if (!finished[lastStatus]) poll(IDLE);
})();
