/*
 * Several photos at once into a listing's gallery (listings/owner_tools.py).
 *
 * On a PropertyPage's editor, a drop zone above the gallery's "Add photo" button takes
 * dropped or chosen image files, posts them to the listing's upload endpoint (which makes
 * Wagtail images of them, checked as the Images screen checks them), then adds one gallery
 * row per photo through the gallery's own "Add" button and sets the row's image chooser to
 * the new image. The photos join the listing when the page is saved or published, like any
 * chosen image; refused files are listed with the reason.
 */
(function () {
  "use strict";

  function setUp() {
    var configElement = document.getElementById("nexus-gallery-upload-config");
    var form = document.querySelector("form[data-edit-form]");
    if (!configElement || !form) return;
    var config = JSON.parse(configElement.textContent);
    var prefix = config.formsetPrefix;
    var addButton = document.getElementById("id_" + prefix + "-ADD");
    var totalForms = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var rows = document.getElementById("id_" + prefix + "-FORMS");
    if (!addButton || !totalForms || !rows || document.querySelector("[data-gallery-drop]")) return;

    var action = new URL(form.getAttribute("action") || "", window.location.href).pathname;
    var match;
    var uploadUrl = null;
    if ((match = action.match(new RegExp(config.editPattern)))) {
      uploadUrl = config.uploadForPage.replace(config.sampleId, match[1]);
    } else if ((match = action.match(new RegExp(config.addPattern)))) {
      uploadUrl = config.uploadForNew.replace(config.sampleId, match[1]);
    }
    if (uploadUrl === null) return; // another page type's editor
    var csrfInput = form.querySelector("input[name=csrfmiddlewaretoken]");

    if (config.stylesheet && !document.querySelector('link[href="' + config.stylesheet + '"]')) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = config.stylesheet;
      document.head.appendChild(link);
    }

    var zone = document.createElement("div");
    zone.className = "nexus-gallery-drop";
    zone.setAttribute("data-gallery-drop", "");
    var prompt = document.createElement("p");
    prompt.className = "nexus-gallery-drop__prompt";
    prompt.appendChild(document.createTextNode("Drop photos here to add them to the gallery, or "));
    var label = document.createElement("label");
    label.className = "button button-small button-secondary";
    label.textContent = "choose several";
    var input = document.createElement("input");
    input.type = "file";
    input.multiple = true;
    input.accept = "image/*";
    input.className = "w-sr-only";
    input.setAttribute("data-gallery-files", "");
    label.appendChild(input);
    prompt.appendChild(label);
    var help = document.createElement("p");
    help.className = "help";
    help.textContent =
      "Each photo is added as a row of the gallery below. Save or publish the page to keep them; " +
      "delete a row to leave its photo out.";
    var status = document.createElement("ul");
    status.className = "nexus-gallery-drop__status";
    status.setAttribute("data-gallery-status", "");
    status.setAttribute("aria-live", "polite");
    zone.appendChild(prompt);
    zone.appendChild(help);
    zone.appendChild(status);
    // Above the rows, where it is seen first; the rows it adds go at the end, as "Add photo" does.
    rows.parentNode.insertBefore(zone, rows);

    function report(text, kind) {
      var item = document.createElement("li");
      item.className = "nexus-gallery-drop__" + kind;
      item.textContent = text; // file names come from the user's disk: text, never HTML
      status.appendChild(item);
    }

    function addRow(image) {
      addButton.click(); // the InlinePanel's own way to add a row
      var index = Number(totalForms.value) - 1;
      var id = "id_" + prefix + "-" + index + "-image";
      var chooser = document.getElementById(id + "-chooser");
      if (chooser && chooser.widget && typeof chooser.widget.setState === "function") {
        chooser.widget.setState(image);
      } else {
        // No chooser object to talk to: the hidden input is what the form submits.
        var hidden = document.getElementById(id);
        if (hidden) {
          hidden.value = String(image.id);
          hidden.dispatchEvent(new Event("change", { bubbles: true }));
        }
      }
    }

    function send(batch) {
      var body = new FormData();
      batch.forEach(function (file) {
        body.append("files", file, file.name);
      });
      return fetch(uploadUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfInput ? csrfInput.value : "", Accept: "application/json" },
      })
        .then(function (response) {
          return response
            .json()
            .catch(function () {
              return { detail: "The upload failed (HTTP " + response.status + ")." };
            })
            .then(function (data) {
              (data.images || []).forEach(function (image) {
                addRow(image);
                report(image.filename + ": added.", "added");
              });
              (data.refused || []).forEach(function (refusal) {
                report(refusal.filename + ": " + refusal.messages.join(" "), "refused");
              });
              if (!data.images && !data.refused) report(data.detail || "The upload failed.", "refused");
            });
        })
        .catch(function () {
          report("The upload failed: check the connection and try again.", "refused");
        });
    }

    function upload(files) {
      var accepted = [];
      Array.prototype.forEach.call(files, function (file) {
        if (file.size > config.maxFileBytes) {
          var limit = Math.round(config.maxFileBytes / (1024 * 1024));
          report(file.name + ": this file is too big; photos may be up to " + limit + " MB.", "refused");
        } else {
          accepted.push(file);
        }
      });
      if (!accepted.length) return Promise.resolve();
      zone.classList.add("nexus-gallery-drop--busy");
      zone.setAttribute("aria-busy", "true");
      var chain = Promise.resolve();
      for (var start = 0; start < accepted.length; start += config.maxFiles) {
        (function (batch) {
          chain = chain.then(function () {
            return send(batch);
          });
        })(accepted.slice(start, start + config.maxFiles));
      }
      return chain.then(function () {
        zone.classList.remove("nexus-gallery-drop--busy");
        zone.removeAttribute("aria-busy");
      });
    }

    function carriesFiles(event) {
      // Rows dragged to reorder the gallery are not files: leave those drags to the gallery.
      var types = event.dataTransfer && event.dataTransfer.types;
      return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
    }

    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files);
      input.value = "";
      upload(files);
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        zone.classList.add("nexus-gallery-drop--over");
      });
    });
    zone.addEventListener("dragleave", function () {
      zone.classList.remove("nexus-gallery-drop--over");
    });
    zone.addEventListener("drop", function (event) {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      zone.classList.remove("nexus-gallery-drop--over");
      upload(event.dataTransfer.files);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
