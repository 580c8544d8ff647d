// The property's photos large, in a modal <dialog>: opened from a photo (each is a link to its
// largest file, which is what happens without JavaScript) or from "Show all N photos".
// Previous/next buttons, the arrow keys and a swipe (pointer events) go through them; the
// counter ("3 / 8") is read out politely; Escape closes and the focus goes back to what
// opened it. "All photos" shows every photo as a grid of thumbnails to jump to.
(function () {
  "use strict";
  var gallery = document.getElementById("gallery");
  var dialog = document.getElementById("lightbox");
  if (!gallery || !dialog || typeof dialog.showModal !== "function") return;
  var links = Array.prototype.slice.call(gallery.querySelectorAll(".gallery-link"));
  var photos = links.map(function (link) {
    var img = link.querySelector("img");
    return { full: link.getAttribute("href"), srcset: img.getAttribute("srcset") || "", thumb: img.currentSrc || img.getAttribute("src"), alt: img.getAttribute("alt") || "" };
  });
  // The large photo's <img> is made on first opening: an empty one in the page would be an
  // image without alt text.
  var image = null;
  var caption = dialog.querySelector(".lightbox-caption");
  var counter = dialog.querySelector(".lightbox-counter");
  var prev = dialog.querySelector(".lightbox-prev");
  var next = dialog.querySelector(".lightbox-next");
  var stage = dialog.querySelector(".lightbox-stage");
  var grid = dialog.querySelector(".lightbox-grid");
  var gridToggle = dialog.querySelector(".lightbox-grid-toggle");
  var showAll = document.querySelector(".gallery-show-all");
  var index = 0;
  var opener = null;

  function show(n) {
    index = (n + photos.length) % photos.length;
    var photo = photos[index];
    if (!image) {
      image = document.createElement("img");
      image.className = "lightbox-image";
      image.setAttribute("sizes", "100vw");
      dialog.querySelector(".lightbox-figure").insertBefore(image, caption);
    }
    image.setAttribute("srcset", photo.srcset);
    image.setAttribute("src", photo.full);
    image.setAttribute("alt", photo.alt);
    caption.textContent = photo.alt;
    counter.textContent = (gallery.getAttribute("data-counter") || "{n} / {total}")
      .replace("{n}", String(index + 1)).replace("{total}", String(photos.length));
    prev.hidden = next.hidden = photos.length < 2;
  }
  function showGrid(on) {
    grid.hidden = !on;
    stage.hidden = on;
    gridToggle.setAttribute("aria-pressed", on ? "true" : "false");
  }
  function open(n, from, asGrid) {
    opener = from;
    show(n);
    showGrid(!!asGrid);
    dialog.showModal();
    (asGrid ? grid.querySelector("button") : next.hidden ? dialog.querySelector(".lightbox-close") : next).focus();
  }

  // The grid of every photo, built once from the gallery's own images.
  photos.forEach(function (photo, n) {
    var item = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "lightbox-thumb";
    button.setAttribute("aria-label", links[n].getAttribute("aria-label") || photo.alt);
    var thumb = document.createElement("img");
    thumb.src = photo.thumb;
    thumb.alt = photo.alt;
    thumb.loading = "lazy";
    button.appendChild(thumb);
    button.addEventListener("click", function () {
      show(n);
      showGrid(false);
      next.hidden ? dialog.querySelector(".lightbox-close").focus() : next.focus();
    });
    item.appendChild(button);
    grid.appendChild(item);
  });

  links.forEach(function (link, n) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      open(n, link, false);
    });
  });
  if (showAll) {
    showAll.hidden = false;
    showAll.addEventListener("click", function () { open(0, showAll, true); });
  }
  prev.addEventListener("click", function () { show(index - 1); });
  next.addEventListener("click", function () { show(index + 1); });
  gridToggle.addEventListener("click", function () { showGrid(grid.hidden); });
  dialog.querySelector(".lightbox-close").addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("keydown", function (event) {
    if (stage.hidden) return;
    if (event.key === "ArrowLeft") { event.preventDefault(); show(index - 1); }
    if (event.key === "ArrowRight") { event.preventDefault(); show(index + 1); }
  });
  // Escape closes a modal dialog by itself; either way the focus goes back to the opener.
  dialog.addEventListener("close", function () {
    if (opener) opener.focus();
    opener = null;
  });
  // A click on the backdrop (outside the dialog's box) closes it too.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) {
      var box = dialog.getBoundingClientRect();
      var inside = event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) dialog.close();
    }
  });

  // Swipe: a mostly horizontal move of 40 px or more with a finger or pen.
  var startX = null, startY = null;
  stage.addEventListener("pointerdown", function (event) {
    if (event.pointerType === "mouse") return;
    startX = event.clientX;
    startY = event.clientY;
  });
  stage.addEventListener("pointerup", function (event) {
    if (startX === null) return;
    var dx = event.clientX - startX, dy = event.clientY - startY;
    startX = startY = null;
    if (Math.abs(dx) >= 40 && Math.abs(dx) > Math.abs(dy)) show(index + (dx < 0 ? 1 : -1));
  });
  stage.addEventListener("pointercancel", function () { startX = startY = null; });
})();
