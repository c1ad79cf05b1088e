// Service worker: caches ONLY the static app shell so the page opens offline.
// It never caches /api/ responses (or anything not in SHELL), so no content — classified or not —
// ever lands in Cache Storage. Network first, cache as fallback, so a deploy is picked up at once.
const CACHE = 'wis-shell-v2';
const SHELL = [
  '/',
  '/index.html',
  '/manifest.webmanifest',
  '/css/ack.css',
  '/css/app.css',
  '/icons/icon.svg',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/icon-maskable-512.png',
  '/js/app.js',
  '/js/api.js',
  '/js/classification.js',
  '/js/diff.js',
  '/js/dom.js',
  '/js/i18n.js',
  '/js/store.js',
  '/js/push.js',
  '/js/stream.js',
  '/js/texts_notify.js',
  '/js/unread.js',
  '/js/views/admin.js',
  '/js/views/callouts.js',
  '/js/views/callout_strip.js',
  '/js/views/common.js',
  '/js/views/login.js',
  '/js/views/notice.js',
  '/js/views/notify_prefs.js',
  '/js/views/report.js',
  '/js/views/settings.js',
  '/js/views/space.js',
  '/js/views/spaces.js',
];
const SHELL_SET = new Set(SHELL);

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) return; // never touch the API: straight to the network
  const isNav = req.mode === 'navigate';
  if (isNav && url.pathname !== '/' && url.pathname !== '/index.html') return;
  const key = isNav ? '/' : url.pathname;
  if (!SHELL_SET.has(key)) return;
  event.respondWith((async () => {
    try {
      // revalidate with the server (ETag) so a deploy is picked up at once
      const res = await fetch(isNav ? req : new Request(req, { cache: 'no-cache' }));
      if (res.ok && res.type === 'basic') {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(key, copy)).catch(() => {});
      }
      return res;
    } catch (err) {
      const cached = await caches.match(key);
      if (cached) return cached;
      throw err;
    }
  })());
});

// Web Push: the server sends {"title", "body", "url", "tag"} (for a classified item a
// content-free pointer already: "Ny information i WIS (SEKRETESS) – logga in för att läsa").
// `tag` is the topic, so a newer notice replaces an older unread one on the screen.
function pushPayload(event) {
  let doc = {};
  try { doc = event.data ? event.data.json() : {}; } catch (e) { doc = { body: event.data ? event.data.text() : '' }; }
  return {
    title: typeof doc.title === 'string' && doc.title ? doc.title : 'WIS',
    body: typeof doc.body === 'string' ? doc.body : '',
    url: typeof doc.url === 'string' ? doc.url : '/',
    tag: typeof doc.tag === 'string' && doc.tag ? doc.tag : undefined,
  };
}

/** Only a link into this server is opened; anything else opens the start page. */
function ownUrl(raw) {
  try {
    const url = new URL(raw, self.location.origin);
    return url.origin === self.location.origin ? url.href : new URL('/', self.location.origin).href;
  } catch (e) {
    return new URL('/', self.location.origin).href;
  }
}

self.addEventListener('push', (event) => {
  const p = pushPayload(event);
  event.waitUntil(self.registration.showNotification(p.title, {
    body: p.body, tag: p.tag, renotify: Boolean(p.tag), data: { url: ownUrl(p.url) },
    icon: '/icons/icon-192.png', badge: '/icons/icon-192.png',
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = ownUrl(event.notification.data && event.notification.data.url);
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const client of open) {
      if (new URL(client.url).origin === self.location.origin) {
        try { await client.focus(); } catch (e) { /* allowed only from a real click */ }
        if (client.url !== target && 'navigate' in client) await client.navigate(target);
        return;
      }
    }
    await self.clients.openWindow(target);
  })());
});
