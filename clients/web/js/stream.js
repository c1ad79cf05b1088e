// Live stream: one websocket to /api/v1/stream, auth as the first frame (never a token in the URL),
// subscriptions resumed with after=<last seen seq>, events deduplicated by seq, reconnect with
// jittered exponential backoff. Falls back to polling GET events?after= (the same frames, withdrawals
// included) when the socket cannot be used, and keeps retrying the socket in the background.
//
//   connect ─► open ─► {"type":"auth"} ─► ready ─► subscribe(space, after=lastSeq) ─► events
//      ▲                                                               │ close/err/offline
//      └──────────── backoff (1s,2s,4s … 30s) ◄────────────────────────┘   4009/4001: refresh first
import { api, getAccessToken, refresh, qs } from './api.js';

const PING_EVERY = 25000;
const PONG_TIMEOUT = 10000;
const POLL_EVERY = 5000;
const FAILS_BEFORE_POLLING = 2;

export class Stream {
  constructor({ onEvent, onStatus, onAuthLost }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onAuthLost = onAuthLost;
    this.subs = new Map(); // space_id -> last seen seq (resume point)
    this.seenSeqs = new Map(); // space_id -> Set of delivered seqs (dedupe, gap repair)
    this.resumeFrom = new Map(); // space_id -> `after` sent with the latest subscribe
    this.ws = null;
    this.ready = false;
    this.status = 'reconnecting';
    this.lastUpdate = null;
    this.liveOn = new Set(); // spaces confirmed by `subscribed` on the current socket
    this.freshAt = new Map(); // space_id -> when the server last confirmed it current
    this.attempt = 0;
    this.failsInRow = 0;
    this.authFails = 0;
    this.polling = false;
    this.stopped = true;
    this.timers = {};
    this._online = () => this.reconnectNow();
    this._offline = () => {
      this.connectGen = (this.connectGen || 0) + 1; // cancel a connect in flight; 'online' restarts
      clearTimeout(this.timers.reconnect);
      this._dropSocket();
      this._setStatus('offline');
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this._online);
    window.addEventListener('offline', this._offline);
    this._connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._online);
    window.removeEventListener('offline', this._offline);
    for (const k of Object.keys(this.timers)) clearTimeout(this.timers[k]);
    this._dropSocket();
    this.subs.clear();
    this.polling = false;
  }

  /** Follow a space from seq `after` (the head returned by the REST load). */
  subscribe(spaceId, after) {
    const prev = this.subs.get(spaceId);
    this.subs.set(spaceId, Math.max(prev ?? 0, after ?? 0));
    if (!this.seenSeqs.has(spaceId)) this.seenSeqs.set(spaceId, new Set());
    if (this.ready) this._subscribeFrame(spaceId);
  }

  _subscribeFrame(spaceId) {
    const after = this.subs.get(spaceId) || 0;
    this.resumeFrom.set(spaceId, after);
    this._send({ type: 'subscribe', space_id: spaceId, after: after || null });
  }

  unsubscribe(spaceId) {
    if (!this.subs.has(spaceId)) return;
    this.subs.delete(spaceId);
    this.seenSeqs.delete(spaceId);
    this.resumeFrom.delete(spaceId);
    this.liveOn.delete(spaceId);
    this.freshAt.delete(spaceId);
    if (this.ready) this._send({ type: 'unsubscribe', space_id: spaceId });
  }

  lastSeq(spaceId) { return this.subs.get(spaceId) ?? 0; }

  /** Whether the space is followed (not refused by an `error` frame, nor ended by `revoked`). */
  follows(spaceId) { return this.subs.has(spaceId); }

  /** When this space was last confirmed current by the server (a frame on its live subscription,
   * or a poll), or null: a live socket alone says nothing about a space it does not follow. */
  spaceFreshAt(spaceId) { return this.freshAt.get(spaceId) || null; }

  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    clearTimeout(this.timers.reconnect);
    this._dropSocket();
    this._connect();
  }

  _setStatus(s) {
    this.status = s;
    this.onStatus?.(s, this.lastUpdate);
  }

  _touch() {
    this.lastUpdate = new Date();
    for (const sid of this.polling ? this.subs.keys() : this.liveOn) {
      if (this.subs.has(sid)) this.freshAt.set(sid, this.lastUpdate);
    }
    this.onStatus?.(this.status, this.lastUpdate);
  }

  _send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  _dropSocket() {
    this.ready = false;
    this.liveOn.clear();
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch (_) { /* ignore */ }
    }
  }

  async _connect() {
    if (this.stopped) return;
    // one socket at a time: a newer _connect (online event, backoff timer) supersedes this one
    this.connectGen = (this.connectGen || 0) + 1;
    const gen = this.connectGen;
    this._dropSocket();
    if (!this.polling) this._setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    if (!getAccessToken()) {
      try { await refresh(); } catch (e) {
        if (gen !== this.connectGen) return;
        if (e.status && e.status !== 0) { this.onAuthLost?.(); return; }
        this._scheduleReconnect();
        return;
      }
      if (gen !== this.connectGen || this.stopped) return;
    }
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try { ws = new WebSocket(`${proto}//${window.location.host}/api/v1/stream`); } catch (_) {
      this._failed(); return;
    }
    this.ws = ws;
    let gotReady = false;
    ws.onopen = () => { ws.send(JSON.stringify({ type: 'auth', token: getAccessToken() })); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      this._armPing();
      switch (msg.type) {
        case 'ready':
          gotReady = true;
          this.ready = true;
          this.attempt = 0;
          this.failsInRow = 0;
          this.authFails = 0;
          this._stopPolling();
          this._setStatus('connected');
          this._touch();
          for (const sid of this.subs.keys()) this._subscribeFrame(sid);
          break;
        case 'subscribed':
          this.liveOn.add(msg.space_id);
          this._touch();
          this._checkHead(msg.space_id, msg.head);
          break;
        case 'pong': clearTimeout(this.timers.pong); this._touch(); break;
        case 'event': this._deliver(msg); break;
        case 'revoked':
          this.subs.delete(msg.space_id);
          this.liveOn.delete(msg.space_id);
          this.onEvent?.({ type: 'revoked', space_id: msg.space_id });
          break;
        case 'error':
          // a refused subscription (e.g. `not_found` after a reconnect): the space is not followed,
          // so nothing may claim it is live (app.js shows it as not followed, with its old time)
          if (msg.space_id) { this.subs.delete(msg.space_id); this.liveOn.delete(msg.space_id); }
          this.onEvent?.({ type: 'error', code: msg.code, message: msg.message, space_id: msg.space_id });
          break;
        case 'membership.added': // per user, for spaces not (yet) followed too
        case 'membership.removed':
          this._touch();
          this.onEvent?.({ type: msg.type, space_id: msg.space_id });
          break;
        default: break;
      }
    };
    ws.onerror = () => { /* onclose follows */ };
    ws.onclose = async (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.liveOn.clear();
      clearTimeout(this.timers.ping);
      clearTimeout(this.timers.pong);
      if (this.stopped) return;
      if (ev.code === 4009 || ev.code === 4001 || ev.code === 4003) {
        this.authFails += 1;
        if (this.authFails > 2) { this.onAuthLost?.(); return; }
        try { await refresh(); } catch (e) {
          if (e.status && e.status !== 0) { this.onAuthLost?.(); return; }
        }
        this._connect();
        return;
      }
      if (ev.code === 4008) { this._connect(); return; } // slow consumer: resume straight away
      if (!gotReady) this._failed(); else this._scheduleReconnect();
    };
  }

  _failed() {
    this.failsInRow += 1;
    if (this.failsInRow >= FAILS_BEFORE_POLLING && navigator.onLine !== false) this._startPolling();
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (this.stopped) return;
    if (!this.polling) this._setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    this.attempt += 1;
    const base = Math.min(30000, 1000 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = base / 2 + Math.random() * base / 2;
    clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(() => this._connect(), delay);
  }

  _armPing() {
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.timers.ping = setTimeout(() => {
      this._send({ type: 'ping' });
      this.timers.pong = setTimeout(() => {
        // silent connection: drop and resume
        const ws = this.ws;
        this._dropSocket();
        if (ws) this._scheduleReconnect();
      }, PONG_TIMEOUT);
    }, PING_EVERY);
  }

  _deliver(msg) {
    const sid = msg.space_id;
    const last = this.subs.get(sid);
    if (last === undefined) return; // not following this space any more
    if (typeof msg.seq === 'number') {
      const seen = this.seenSeqs.get(sid) || new Set();
      this.seenSeqs.set(sid, seen);
      if (seen.has(msg.seq)) { // duplicate: harmless, but a hint that the replay may have gaps
        this._scheduleCatchUp(sid);
        return;
      }
      seen.add(msg.seq);
      if (seen.size > 4000) for (const s of [...seen].sort((a, b) => a - b).slice(0, 2000)) seen.delete(s);
      if (msg.seq > last) this.subs.set(sid, msg.seq);
    }
    this._touch();
    this.onEvent?.({ type: 'event', space_id: sid, seq: msg.seq, event: msg.event, data: msg.data });
  }

  // --- gap repair: after a resume, if the space's head is beyond what arrived (items we may not
  // read are skipped, so this is normal too) fetch the readable entries once over REST. ------
  _checkHead(sid, head) {
    if (typeof head !== 'number') return;
    clearTimeout(this.timers[`head:${sid}`]);
    this.timers[`head:${sid}`] = setTimeout(() => {
      if (this.subs.has(sid) && (this.subs.get(sid) ?? 0) < head) this._catchUp(sid, head);
    }, 2500);
  }

  _scheduleCatchUp(sid) {
    clearTimeout(this.timers[`dup:${sid}`]);
    this.timers[`dup:${sid}`] = setTimeout(() => this._catchUp(sid), 500);
  }

  async _catchUp(sid, head) {
    if (!this.subs.has(sid)) return;
    const from = this.resumeFrom.get(sid) ?? 0;
    try {
      // the space's event frames (the long-poll endpoint, not waiting), not the entry list:
      // they carry withdrawals (entry.withdrawn) and changes to entries already shown, too
      const res = await api(`/spaces/${encodeURIComponent(sid)}/events${qs({ after: from, limit: 500 })}`);
      for (const f of res.items || []) this._deliver(f);
      this._advance(sid, res, head);
    } catch (_) { /* next reconnect or poll tries again */ }
  }

  /** Move the resume point past what a REST page examined (up to the head when it was the last page). */
  _advance(sid, res, head) {
    if (!this.subs.has(sid)) return;
    const examined = typeof res.next_after === 'number' ? res.next_after : 0;
    const top = typeof res.head === 'number' && examined >= res.head ? Math.max(head ?? 0, res.head) : examined;
    if (top > (this.subs.get(sid) ?? 0)) this.subs.set(sid, top);
  }

  // --- polling fallback -------------------------------------------------------------
  _startPolling() {
    if (this.polling) return;
    this.polling = true;
    this._setStatus('polling');
    this._poll();
  }

  _stopPolling() {
    this.polling = false;
    clearTimeout(this.timers.poll);
  }

  async _poll() {
    if (!this.polling || this.stopped) return;
    let ok = true;
    for (const [sid, after] of [...this.subs]) {
      try {
        const res = await api(`/spaces/${encodeURIComponent(sid)}/events${qs({ after, limit: 200 })}`);
        for (const f of res.items || []) this._deliver(f); // entry.withdrawn included
        const before = this.subs.get(sid) ?? 0;
        this._advance(sid, res);
        if ((this.subs.get(sid) ?? 0) > before) {
          this.onEvent?.({ type: 'poll-head', space_id: sid, head: this.subs.get(sid) });
        }
      } catch (e) {
        ok = false;
        if (e.status === 404 || e.status === 403) {
          this.subs.delete(sid);
          this.onEvent?.({ type: 'revoked', space_id: sid });
        }
      }
    }
    if (ok) { this._setStatus('polling'); this._touch(); } else this._setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    this.timers.poll = setTimeout(() => this._poll(), POLL_EVERY);
  }
}
