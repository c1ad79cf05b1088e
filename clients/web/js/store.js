// In-memory state for the session: the signed-in user and the actor directory.
// Deliberately memory only — nothing here is ever written to browser storage.
import { api } from './api.js';

export function createStore() {
  const store = {
    me: null,
    actors: new Map(),
    actorsLoaded: false,
    lastLoaded: null,
    // unsent drafts per space while the app is open: memory only, never browser storage (they may
    // be classified); gone on sign-out and on reload
    drafts: new Map(),
    reset() { store.me = null; store.actors = new Map(); store.actorsLoaded = false; store.lastLoaded = null; store.drafts = new Map(); },
    async loadMe() {
      store.me = await api('/me');
      if (store.me.actor) store.actors.set(store.me.actor.id, { ...store.me.actor, ...(store.actors.get(store.me.actor.id) || {}) });
      return store.me;
    },
    async loadActors(force = false) {
      if (store.actorsLoaded && !force) return store.actors;
      const res = await api('/actors');
      store.actors = new Map((res.items || []).map((a) => [a.id, a]));
      store.actorsLoaded = true;
      return store.actors;
    },
    actorName(id, short = false) {
      const a = store.actors.get(id);
      if (!a) return id ? `#${String(id).slice(0, 8)}` : '';
      return short ? (a.short_name || a.name) : a.name;
    },
    touch() { store.lastLoaded = new Date(); },
  };
  return store;
}
