// Booking page: hold countdown, the pay form (posted to the site's pay view), and a live
// status panel that follows the payment from "check your phone" to paid or failed, while the
// booking's status, figures and list of payments update without a reload; the refunds of a
// cancelled booking follow the same way, the check-in section appears once the booking is
// confirmed, and "Cancel this booking" opens a confirmation dialog with the refund asked fresh
// from the API (without JavaScript the link opens a confirmation page).
// Every word it writes comes translated from the page (config.text, config.payText).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("booking-page-config").textContent);
  var text = Object.assign({}, config.text || {}, config.payText || {});
  var form = document.getElementById("pay-form");
  var payArea = document.getElementById("pay-area");
  var statusPanel = document.getElementById("status-panel");
  var statusSummary = document.getElementById("status-summary");
  var progress = document.getElementById("progress");
  var retryActions = document.getElementById("retry-actions");
  var retry = document.getElementById("retry-button");
  var otherNumber = document.getElementById("other-number-button");
  var payButton = document.getElementById("pay-button");
  var payErrors = document.getElementById("pay-errors");
  var FAST = 1500, IDLE = 10000, REFUNDS = 3000;
  var timer = null;
  var currentPayment = config.shownPaymentId;
  var lastStatus = config.status;
  var finished = { CONFIRMED: true, CANCELED: true };
  var refundsOpen = !!config.refundsOpen;
  var shown = config.shownPayment || null;
  // What the status panel last said: it is rewritten (and so announced) only when this changes.
  var announced = announceKey(shown, { status: config.status, amount_paid: config.amountPaid });
  var paymentsKey = null;

  function grouped(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function kes(n) { return "KES " + grouped(n); }
  // Python-style "%(name)s" placeholders, as gettext gives them.
  function fill(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (_, key) { return values[key] === undefined ? "" : values[key]; });
  }
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

  // --- The status panel (one polite live region) ------------------------------------------
  function announceKey(p, b) {
    return (p ? p.id + ":" + p.phase : "") + "|" + b.status + "|" + b.amount_paid;
  }
  // Rewrites the panel when the payment's phase or the booking's status or money really
  // changed: one announcement that carries all of it. The same answer again writes nothing.
  function announce(p, b) {
    if (p) shown = p;
    var key = announceKey(shown, b);
    if (key === announced) return false;
    announced = key;
    if (p) {
      progress.hidden = false;
      progress.className = "progress-panel progress-" + p.phase;
      progress.setAttribute("data-phase", p.phase);
      document.getElementById("progress-title").textContent = p.title;
      document.getElementById("progress-message").textContent = p.message;
    }
    statusSummary.textContent = fill(text.statusSummary, {
      status: b.status_label, paid: kes(b.amount_paid), balance: kes(b.balance_due)
    });
    return true;
  }

  // --- Booking figures ---------------------------------------------------------------------
  function applyBooking(b) {
    var badge = document.getElementById("status-badge");
    if (b.status !== lastStatus) {
      // What was said about the old status ("we're holding these dates...") no longer holds.
      document.querySelectorAll(".messages").forEach(function (el) { el.remove(); });
    }
    badge.className = "badge badge-" + b.status;
    badge.textContent = b.status_label;
    badge.setAttribute("data-status", b.status);
    document.getElementById("booking").setAttribute("data-status", b.status);
    var notice = document.getElementById("status-notice");
    if (notice.textContent !== b.notice) notice.textContent = b.notice;
    ["total_price", "amount_paid", "balance_due"].forEach(function (key) {
      document.querySelectorAll('[data-field="' + key + '"]').forEach(function (el) { el.textContent = kes(b[key]); });
    });
    document.querySelectorAll('[data-field="max_payable"]').forEach(function (el) { el.textContent = grouped(b.max_payable); });
    var full = document.getElementById("full-balance-chip");
    if (full) full.setAttribute("data-amount", b.max_payable);
    if (form) {
      var amount = form.querySelector("[name=amount]");
      amount.max = b.max_payable || 1;
      amount.min = b.min_payable || 1;
      var help = document.getElementById("amount-help");
      if (help) {
        var values = { minimum: kes(b.min_payable), maximum: kes(b.max_payable) };
        if (b.min_payable && b.min_payable === b.max_payable) help.textContent = fill(text.amountFull, values);
        else help.textContent = fill(b.min_payable > 1 ? text.amountAtLeast : text.amountUpTo, values);
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
    if (b.status === "CONFIRMED" && !document.getElementById("paid-in-full")) {
      document.getElementById("paid-in-full-live").hidden = false;
    }
    if (payArea) payArea.hidden = !b.payable;
    lastStatus = b.status;
    if (typeof updatePayBar === "function") setTimeout(updatePayBar, 0);
    return b;
  }

  // --- The payments list (templates/mpesa/includes/payments.html) ---------------------------
  function applyPayments(payments) {
    var list = document.getElementById("payment-list");
    if (!list || !payments) return;
    var key = payments.map(function (p) { return p.id + ":" + p.phase; }).join(",");
    if (key === paymentsKey) return;
    paymentsKey = key;
    list.textContent = "";
    payments.forEach(function (p) {
      var item = document.createElement("li");
      item.className = "payment-item payment-" + p.phase;
      item.setAttribute("data-payment-id", p.id);
      item.setAttribute("data-phase", p.phase);
      var what = document.createElement("span");
      what.textContent = p.amount_text + (p.when ? " · " + p.when : "");
      var state = document.createElement("span");
      state.className = "payment-state";
      state.textContent = p.title + (p.receipt ? " · " + p.receipt : "");
      item.appendChild(what);
      item.appendChild(state);
      list.appendChild(item);
    });
    document.getElementById("payments").hidden = !payments.length;
  }

  // --- After a payment settles ------------------------------------------------------------------
  // Paid: the form comes back for the rest, if any. Failed: one "Try again" (same phone,
  // same amount) and "Use another number", which shows the form; never both at once.
  function settle(p, b) {
    var canPayAgain = b ? b.payable : true;
    var failed = p.final && p.phase !== "paid";
    if (retryActions) retryActions.hidden = !(failed && canPayAgain);
    if (form) {
      form.hidden = !p.final || !canPayAgain || failed;
      if (p.final && p.phase === "paid" && b && b.payable) {
        form.querySelector("[name=amount]").value = b.max_payable;
      }
    }
  }

  function poll(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  var checkInShown = !!document.getElementById("check-in");
  function showCheckIn(html) {
    if (checkInShown || !html) return;
    checkInShown = true;
    var slot = document.getElementById("check-in-slot");
    slot.innerHTML = html;
    if (window.nexusCheckInMap) window.nexusCheckInMap(slot);
  }

  function refresh() {
    var url = config.statusUrl + (currentPayment ? "?payment=" + encodeURIComponent(currentPayment) : "");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (data) {
        var b = applyBooking(data.booking);
        applyPayments(data.payments);
        if (!currentPayment && data.payments) {
          // A payment started elsewhere (another tab, the app) is followed here too.
          var open = data.payments.filter(function (p) { return !p.final; })[0];
          if (open) { currentPayment = open.id; data.payment = open; }
        }
        if (data.payment) {
          announce(data.payment, b);
          settle(data.payment, b);
          if (data.payment.final) currentPayment = null;
        } else {
          announce(null, b);
          if (form && retryActions && retryActions.hidden) form.hidden = !b.payable;
        }
        showCheckIn(data.check_in_html);
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
  function fieldError(field, message) {
    var element = form.querySelector('[data-error-for="' + field + '"]');
    var input = form.querySelector("[name=" + field + "]");
    element.textContent = message;
    input.setAttribute("aria-invalid", "true");
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(element.id) === -1) described.push(element.id);
    input.setAttribute("aria-describedby", described.join(" "));
    return input;
  }
  function focusFirstError() {
    var invalid = form.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
    else if (!payErrors.hidden) payErrors.focus();
  }
  function showError(message) {
    var p = document.createElement("p");
    p.textContent = message;
    payErrors.appendChild(p);
    payErrors.hidden = false;
  }
  function showForm() {
    if (retryActions) retryActions.hidden = true;
    form.hidden = false;
  }

  function submitPayment() {
    clearErrors();
    var phone = form.querySelector("[name=phone_number]").value.trim();
    var amount = parseInt(form.querySelector("[name=amount]").value, 10);
    if (!phone) {
      showForm();
      fieldError("phone_number", text.phoneRequired).focus();
      return;
    }
    if (!(amount >= 1)) {
      showForm();
      fieldError("amount", text.amountRequired).focus();
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
          if (retryActions) retryActions.hidden = true;
          announce(body.payment, b);
          // Where the news will come: the status panel, not the top of the page.
          statusPanel.focus();
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
        else if (!fieldShown) showError(text.sendFailed);
        showForm();
        focusFirstError();
        poll(0);
      })
      .catch(function () {
        showError(text.offline);
        showForm();
        focusFirstError();
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
    retry.addEventListener("click", function () { submitPayment(); });
    otherNumber.addEventListener("click", function () {
      showForm();
      form.querySelector("[name=phone_number]").focus();
    });
    // Landed on a failed payment (the no-JavaScript pay form's redirect): the one action.
    if (shown && shown.final && shown.phase !== "paid" && !form.hidden) settle(shown, { payable: true });
  }

  // --- The phone's "Pay KES X" bar ------------------------------------------------------------
  // Shown on a narrow screen while the pay card is out of view and there is something to pay;
  // it scrolls to the card and puts the focus where paying starts.
  var payBar = document.getElementById("pay-bar");
  var payCard = document.getElementById("pay");
  var payCardVisible = true;
  var narrow = window.matchMedia ? window.matchMedia("(max-width: 899px)") : { matches: false };
  function updatePayBar() {
    if (!payBar) return;
    var payable = payArea && !payArea.hidden && form && !form.hidden;
    payBar.hidden = !(narrow.matches && payable && !payCardVisible);
  }
  if (payBar && payCard && "IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      payCardVisible = entries[entries.length - 1].isIntersecting;
      updatePayBar();
    }).observe(payCard);
    payBar.addEventListener("click", function (event) {
      event.preventDefault();
      payCard.scrollIntoView({ block: "start" });
      var target = form && !form.hidden ? form.querySelector("[name=phone_number]") : statusPanel;
      target.focus({ preventScroll: true });
      updatePayBar();
    });
  }

  // --- The add-guest form came back with errors: focus the first one -----------------------------
  var guestForm = document.querySelector(".add-guest-form[data-has-errors]");
  var guestErrors = document.getElementById("add-guest-errors");
  var firstGuestError = guestForm && guestForm.querySelector("[aria-invalid=true]");
  if (firstGuestError) firstGuestError.focus();
  else if (guestErrors) guestErrors.focus();

  // --- Refunds (templates/mpesa/includes/refunds.html) --------------------------------------
  function applyRefunds(refunds, summary) {
    var list = document.getElementById("refund-list");
    refundsOpen = !!(summary && summary.open);
    if (!list) {
      // Refunds appeared while the page was open (cancelled from elsewhere): reload once to show them.
      if (refunds.length && !document.getElementById("refunds")) window.location.reload();
      return;
    }
    var key = refunds.map(function (r) { return r.id + ":" + r.phase; }).join(",");
    if (list.getAttribute("data-key") === key) return;  // unchanged: nothing to re-announce
    list.setAttribute("data-key", key);
    list.textContent = "";
    refunds.forEach(function (r) {
      var item = document.createElement("li");
      item.className = "refund-item refund-" + r.phase;
      item.setAttribute("data-refund-id", r.id);
      item.setAttribute("data-phase", r.phase);
      var what = document.createElement("span");
      what.textContent = fill(text.refundLine, { amount: kes(r.amount), method: r.method, phone: r.phone });
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
      line.textContent = fill(summary.done ? text.refundedDone : text.refundedOpen, { total: kes(summary.total), phones: summary.phones });
    }
  }

  // --- Cancelling: the confirmation dialog ------------------------------------------------------
  var cancelButton = document.getElementById("cancel-button");
  var cancelDialog = document.getElementById("cancel-dialog");
  if (cancelButton && cancelDialog && typeof cancelDialog.showModal === "function") {
    var confirmButton = document.getElementById("cancel-confirm");
    var refusal = document.getElementById("cancel-refusal");
    var terms = document.getElementById("cancel-dialog-terms");
    var setField = function (name, value) {
      terms.querySelectorAll('[data-cancel-field="' + name + '"]').forEach(function (el) { el.textContent = value; });
    };
    var fillTerms = function (t) {
      setField("amount_paid", kes(t.amount_paid));
      setField("refund_amount", kes(t.refund_amount));
      setField("kept_amount", kes(t.kept_amount));
      setField("explanation", t.explanation);
      terms.querySelectorAll("[data-cancel-kept]").forEach(function (el) { el.hidden = !t.kept_amount; });
      document.querySelector('#cancel-confirm-form [name="expected_refund"]').value = t.refund_amount;
      confirmButton.textContent = t.refund_amount ? fill(text.cancelYesRefund, { amount: kes(t.refund_amount) }) : text.cancelYes;
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
            refusal.textContent = (res.body && res.body.detail) || text.cancelRefused;
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
