{% autoescape off %}/* Nexus service worker (core/pwa.py, docs/pwa.md). Release {{ version }}.
 *
 * - The shell (styles, icons, the offline page) is cached when the worker installs.
 * - "My bookings" and booking pages are fetched from the network first and a copy is kept,
 *   so a guest can read their bookings with no signal. Nothing else personal is kept.
 * - Any other page that cannot be fetched shows the offline page.
 * - Logging out (or any page seen logged out) deletes the kept pages: see js/pwa.js.
 */
const SHELL_CACHE = "nexus-shell-{{ version }}";
const PAGES_CACHE = "nexus-pages";
const SHELL_URLS = {{ shell_urls_json }};
// English pages are unprefixed, Kiswahili ones live under /sw/ (docs/i18n.md).
const KEPT_PAGES = /^\/(sw\/)?bookings\/(\d+\/)?$/;

function offlineUrlFor(pathname) {
  return pathname.startsWith("/sw/") ? "/sw/offline/" : "/offline/";
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL_URLS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("nexus-shell-") && key !== SHELL_CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "forget-pages") {
    event.waitUntil(caches.delete(PAGES_CACHE));
  }
});

async function keptPageOrOffline(request) {
  const kept = await caches.match(request, { cacheName: PAGES_CACHE });
  const offline = offlineUrlFor(new URL(request.url).pathname);
  return kept || (await caches.match(offline, { cacheName: SHELL_CACHE })) || Response.error();
}

async function networkFirstKeeping(request) {
  try {
    const response = await fetch(request);
    // Only a page the guest actually saw: not a redirect to the log-in page, not an error.
    if (response.ok && !response.redirected && response.type === "basic") {
      const copy = response.clone();
      caches.open(PAGES_CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  } catch (error) {
    return keptPageOrOffline(request);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    if (KEPT_PAGES.test(url.pathname)) {
      event.respondWith(networkFirstKeeping(request));
    } else {
      event.respondWith(fetch(request).catch(() => caches.match(offlineUrlFor(url.pathname), { cacheName: SHELL_CACHE })));
    }
    return;
  }
  if (SHELL_URLS.includes(url.pathname)) {
    event.respondWith(caches.match(request, { cacheName: SHELL_CACHE }).then((hit) => hit || fetch(request)));
  }
});
{% endautoescape %}
