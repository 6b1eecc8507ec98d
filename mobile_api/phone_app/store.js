// The device's database (Dexie over IndexedDB) and the technician API client.
//
// Everything the app knows lives here, so that it opens with no network: the tokens, the
// sync cursor, the day's route and job cards, the checklist ticks, the notices and the
// outbox of changes not yet sent. Signing out deletes the whole database.

const DB_NAME = "fieldops-tech";
const API = "/api/mobile/v1";

export const db = new window.Dexie(DB_NAME);
db.version(1).stores({
  kv: "key", // tokens, cursor, day, van, checklist ticks, notices
  routes: "date", // the day's route as /me/route answered it
  outbox: "++seq, id, state, job", // changes made on the phone, in the order made
});

export async function get(key, fallback = null) {
  const row = await db.kv.get(key);
  return row === undefined ? fallback : row.value;
}

export function put(key, value) {
  return db.kv.put({ key, value });
}

/** Forget everything this device knew: tokens, route, outbox. */
export async function wipe() {
  db.close();
  await window.Dexie.delete(DB_NAME);
  await db.open();
}

/** The network could not be reached (offline, or the server is down): try again later. */
export class Unreachable extends Error {}

/** The refresh token no longer works: the technician must sign in again. */
export class SignedOut extends Error {}

let refreshing = null;

async function refresh() {
  const tokens = await get("tokens");
  if (!tokens) throw new SignedOut("not signed in");
  if (!navigator.onLine) throw new Unreachable("offline");
  let response;
  try {
    response = await fetch(`${API}/auth/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: tokens.refresh_token }),
    });
  } catch (error) {
    throw new Unreachable(String(error));
  }
  if (response.status === 401) throw new SignedOut("signed out by the server");
  if (!response.ok) throw new Unreachable(`refresh answered ${response.status}`);
  await put("tokens", await response.json());
}

/**
 * A request to the technician API with the access token; a 401 refreshes the tokens once
 * (silently) and tries again. Network failures and 5xx throw Unreachable; other answers
 * are returned for the caller to read.
 */
export async function api(path, { method = "GET", body, json, headers = {}, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const tokens = await get("tokens");
    if (!tokens) throw new SignedOut("not signed in");
    const sent = { ...headers, Authorization: `Bearer ${tokens.access_token}` };
    let payload = body;
    if (json !== undefined) {
      sent["Content-Type"] = "application/json";
      payload = JSON.stringify(json);
    }
    // The browser knows it is offline: asking would only log a failed load.
    if (!navigator.onLine) throw new Unreachable("offline");
    let response;
    try {
      response = await fetch(API + path, { method, headers: sent, body: payload, signal });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new Unreachable(String(error));
    }
    if (response.status === 401 && attempt === 0) {
      refreshing = refreshing || refresh().finally(() => (refreshing = null));
      await refreshing;
      continue;
    }
    if (response.status === 401) throw new SignedOut("the server refused the tokens");
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      throw new Unreachable(`the server answered ${response.status}`);
    }
    return response;
  }
}

/** Sign this phone in; returns null or the reason it was refused. */
export async function signIn(username, password) {
  let response;
  try {
    response = await fetch(`${API}/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password, device: deviceName() }),
    });
  } catch {
    return "No network: sign in when the phone is online.";
  }
  if (!response.ok) return await problemDetail(response);
  await put("tokens", await response.json());
  return null;
}

/** Sign out on the server (best effort) and delete the device's database. */
export async function signOut() {
  try {
    const tokens = await get("tokens");
    if (tokens) {
      await fetch(`${API}/auth/logout`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${tokens.access_token}`,
        },
        body: "{}",
      });
    }
  } catch {
    // offline: the device is forgotten here all the same
  }
  await wipe();
}

/** A problem+json answer's reason, for people. */
export async function problemDetail(response) {
  try {
    const problem = await response.json();
    const fields = (problem.errors || []).map((e) => `${e.field}: ${e.message}`).join("; ");
    return [problem.detail || problem.title, fields].filter(Boolean).join(" — ");
  } catch {
    return `the server answered ${response.status}`;
  }
}

function deviceName() {
  const agent = navigator.userAgent;
  const model = /Android[^;)]*;\s*([^;)]+)/.exec(agent) || /(iPhone|iPad)/.exec(agent);
  return (model ? model[1] : "phone browser").slice(0, 60);
}
