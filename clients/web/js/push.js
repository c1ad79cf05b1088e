// Web Push in this browser: subscribe with the server's VAPID key and register the subscription
// (POST /api/v1/me/push-subscriptions), or unsubscribe and unregister it (DELETE). What the
// notification shows is decided by the server (a content-free pointer for classified items).
import { api } from './api.js';

export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window && window.isSecureContext;
}

function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function sameKey(a, b) {
  if (!a) return false;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

/** 'unsupported' | 'disabled' (server has push off) | 'denied' | 'on' | 'off', and the VAPID key. */
export async function pushState() {
  if (!pushSupported()) return { state: 'unsupported' };
  let key;
  try { key = (await api('/me/push-subscriptions/vapid-key')).public_key; } catch (e) {
    if (e.status === 404) return { state: 'disabled' };
    throw e;
  }
  if (Notification.permission === 'denied') return { state: 'denied', key };
  const reg = await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.getSubscription();
  return { state: sub && sameKey(sub.options?.applicationServerKey, keyBytes(key)) ? 'on' : 'off', key };
}

export async function enablePush(key) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'denied';
  const reg = await navigator.serviceWorker.ready;
  const wanted = keyBytes(key);
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub.options?.applicationServerKey, wanted)) { await sub.unsubscribe(); sub = null; }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: wanted });
  const json = sub.toJSON();
  await api('/me/push-subscriptions', { method: 'POST', body: { endpoint: json.endpoint, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth }, expirationTime: json.expirationTime ?? null } });
  return 'on';
}

export async function disablePush() {
  const reg = await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.getSubscription();
  if (!sub) return 'off';
  const endpoint = sub.endpoint;
  await sub.unsubscribe();
  try { await api('/me/push-subscriptions', { method: 'DELETE', body: { endpoint } }); } catch (e) {
    if (e.status !== 404) throw e; // already gone on the server: off is off
  }
  return 'off';
}
