// The app's service worker (scope /tech/): keeps the shell so that the app opens with no
// network. The server puts `SHELL` (the shell's URLs, and a version made from their
// contents) in front of this file, so a new release installs a new cache and drops the
// old one. Data never passes through here: the app keeps it in IndexedDB, and API
// requests go to the network as they are.
/* global SHELL */

const CACHE = `fieldops-tech-${SHELL.version}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.urls.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("fieldops-tech-") && name !== CACHE)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  // Any page under /tech/ is the one page (it reads ?date= and #job/ itself).
  const path = request.mode === "navigate" && url.pathname.startsWith("/tech/") ? "/tech/" : url.pathname;
  if (!SHELL.urls.includes(path)) return;
  event.respondWith(caches.match(path, { cacheName: CACHE }).then((hit) => hit || fetch(request)));
});
