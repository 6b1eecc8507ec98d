// The outbox: every change is written here first, shown at once, and sent in the order it
// was made when the network allows. Each change has the UUID of the record it makes and its
// own Idempotency-Key, so sending it again (a lost answer, a retry) applies it once.
//
// A network failure leaves the change waiting (retried with backoff and on the `online`
// event); a refusal (4xx) moves it to "refused" with the server's reason, for the
// technician to retry or discard.

import { Unreachable, api, db, problemDetail } from "./store.js";

/** Status changes the lifecycle allows from each status, as the phone knows it. */
export const NEXT = {
  scheduled: ["en_route", "on_site"],
  dispatched: ["en_route", "on_site"],
  en_route: ["on_site"],
  on_site: ["paused", "completed", "cannot_complete"],
  paused: ["on_site", "completed", "cannot_complete"],
};
/** Statuses in which parts may be used: the technician is on the way or has been there. */
export const UNDER_WAY = ["en_route", "on_site", "paused", "completed", "cannot_complete"];

export const LABELS = {
  status: "Status",
  note: "Note",
  parts_used: "Parts used",
  photo: "Photo",
  signature: "Signature",
};

const listeners = new Set();

/** Call `listener` whenever the outbox changes (queued, sent, refused). */
export function onChange(listener) {
  listeners.add(listener);
}

function changed() {
  for (const listener of listeners) listener();
}

/**
 * Queue a change: `type` is status, note, parts_used, photo or signature; `payload` is the
 * request body without id and device_time (parts lines carry their own ids; files are
 * `{blob}`).
 */
export async function queue(type, job, payload) {
  const entry = {
    id: crypto.randomUUID(),
    key: crypto.randomUUID(),
    type,
    job,
    payload,
    device_time: new Date().toISOString(),
    state: "pending",
    reason: null,
  };
  await db.outbox.add(entry);
  changed();
  flush();
  return entry;
}

export function pending() {
  return db.outbox.where("state").equals("pending").sortBy("seq");
}

export async function all() {
  return db.outbox.orderBy("seq").toArray();
}

export async function retry(seq) {
  await db.outbox.update(seq, { state: "pending", reason: null });
  changed();
  flush();
}

export async function discard(seq) {
  await db.outbox.delete(seq);
  changed();
}

function request(entry) {
  const job = encodeURIComponent(entry.job);
  const headers = { "Idempotency-Key": entry.key };
  const time = entry.device_time;
  if (entry.type === "photo" || entry.type === "signature") {
    const query = new URLSearchParams({ kind: entry.type, device_time: time });
    return [
      `/jobs/${job}/attachments/${entry.id}?${query}`,
      {
        method: "PUT",
        body: entry.payload.blob,
        headers: { ...headers, "Content-Type": entry.payload.blob.type },
      },
    ];
  }
  if (entry.type === "parts_used") {
    const json = { lines: entry.payload.lines, device_time: time };
    return [`/jobs/${job}/parts-used`, { method: "POST", headers, json }];
  }
  const path = entry.type === "status" ? "status" : "notes";
  return [
    `/jobs/${job}/${path}`,
    { method: "POST", headers, json: { id: entry.id, device_time: time, ...entry.payload } },
  ];
}

let running = null;
let again = false;
let backoff = 0;
let timer = null;
/** Called with each change the server accepted, and its answer, to update the local copy. */
let whenSent = async () => {};

export function onSent(callback) {
  whenSent = callback;
}

/** Send what is waiting, in order; one at a time, whoever asks (a change queued while a
 * round is finishing gets a round of its own). */
export function flush() {
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    let sent;
    do {
      again = false;
      sent = await send().catch(() => false);
    } while (again && sent);
    return sent;
  })().finally(() => (running = null));
  return running;
}

async function send() {
  clearTimeout(timer);
  for (;;) {
    const [entry] = await pending();
    if (!entry) break;
    let response;
    try {
      response = await api(...request(entry));
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      backoff = Math.min(backoff ? backoff * 2 : 2000, 60000);
      timer = setTimeout(flush, backoff);
      return false;
    }
    backoff = 0;
    if (response.ok) {
      await db.outbox.delete(entry.seq);
      await whenSent(entry, await response.json());
    } else {
      const reason = await problemDetail(response);
      await db.outbox.update(entry.seq, { state: "refused", reason });
    }
    changed();
  }
  return true;
}

window.addEventListener("online", () => flush());
