// The technician's app: sign-in, today's route, a job, the outbox, live changes.
//
// The screen is drawn from the device's database (store.js) with the outbox's changes laid
// over it (outbox.js), so it opens and works with no network; the network only refreshes
// the database (sync, route, live events) and empties the outbox.

import * as outbox from "./outbox.js";
import { SignedOut, Unreachable, api, db, get, put, signIn, signOut } from "./store.js";

const $ = (selector, root = document) => root.querySelector(selector);

/** An element with attributes (`on*` functions become listeners) and children. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** "HH:MM" of an API time, on the service day's clock as the API gives it (never the
 * browser's zone); the date too when it is not the route's day. */
function clock(iso, day = state.day) {
  if (!iso) return "–";
  const time = iso.slice(11, 16);
  return iso.slice(0, 10) === day ? time : `${iso.slice(8, 10)}/${iso.slice(5, 7)} ${time}`;
}

const STATUS_LABELS = {
  scheduled: "Scheduled",
  dispatched: "Dispatched",
  en_route: "En route",
  on_site: "On site",
  paused: "Paused",
  completed: "Completed",
  cannot_complete: "Cannot complete",
  cancelled: "Cancelled",
  on_hold: "On hold",
};
const BUTTONS = [
  ["en_route", "En route"],
  ["on_site", "On site"],
  ["paused", "Pause"],
  ["completed", "Complete"],
  ["cannot_complete", "Cannot complete"],
];

const state = { day: null, view: "route", job: null, reachable: navigator.onLine, zone: null };

/** "HH:MM" of an instant the phone recorded, on the service area's clock (the route's
 * time zone) rather than the browser's. */
function zoned(iso) {
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (!state.zone) return `${iso.slice(11, 16)} UTC`;
  return new Intl.DateTimeFormat("en-GB", { ...options, timeZone: state.zone }).format(new Date(iso));
}

// --- startup and sign-in ---------------------------------------------------------------

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/tech/sw.js", { scope: "/tech/" }).catch(() => {});
  }
  $("#login-form").addEventListener("submit", submitLogin);
  $("#sign-out").addEventListener("click", doSignOut);
  $("#show-outbox").addEventListener("click", () => show("outbox"));
  $("#show-route").addEventListener("click", () => show("route"));
  outbox.onChange(() => {
    renderState();
    if (state.view === "route") renderRoute();
    if (state.view === "outbox") renderOutbox();
    if (state.view === "job") renderJob();
  });
  setInterval(() => state.reachable && $("#login").hidden && guarded(refreshRoute), 60000);
  outbox.onSent(applySent);
  window.addEventListener("online", () => goOnline());
  window.addEventListener("offline", () => {
    state.reachable = false;
    renderState();
  });
  if (await get("tokens")) await enter();
  else showLogin();
}

function showLogin() {
  $("#bar").hidden = true;
  for (const id of ["route", "job", "outbox"]) $(`#${id}`).hidden = true;
  $("#login").hidden = false;
}

async function submitLogin(event) {
  event.preventDefault();
  const form = event.target;
  const button = $("button[type=submit]", form);
  button.disabled = true;
  $("#login-error").textContent = "";
  const refused = await signIn(form.username.value, form.password.value);
  button.disabled = false;
  if (refused) {
    $("#login-error").textContent = refused;
    return;
  }
  form.reset();
  await enter();
}

async function doSignOut() {
  stopLive();
  await signOut();
  $("#notices").replaceChildren();
  $("#job").replaceChildren();
  delete $("#job").dataset.job;
  state.day = null;
  history.replaceState(null, "", location.pathname);
  showLogin();
}

async function enter() {
  $("#login").hidden = true;
  $("#bar").hidden = false;
  const asked = new URLSearchParams(location.search).get("date");
  state.day = asked || (await get("day"));
  await renderNotices();
  const opened = /^#job\/(.+)$/.exec(location.hash);
  await (opened ? show("job", decodeURIComponent(opened[1])) : show("route"));
  renderState();
  if (navigator.onLine) goOnline();
}

/** Whoever finds the tokens refused sends the technician back to sign in. */
async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SignedOut) {
      stopLive();
      await signOut();
      showLogin();
      $("#login-error").textContent = "Signed out: please sign in again.";
    } else if (error instanceof Unreachable) {
      state.reachable = false;
      renderState();
    } else if (error.name !== "AbortError") {
      throw error;
    }
    return undefined;
  }
}

// --- network: sync, route, live events --------------------------------------------------

let connecting = null;

/** Catch up, refresh the route and the van, send the outbox, follow the live stream. */
function goOnline() {
  connecting =
    connecting ||
    guarded(async () => {
      state.reachable = true;
      renderState();
      await catchUp();
      await refreshRoute();
      await refreshVan();
      await outbox.flush();
      startLive();
    }).finally(() => {
      connecting = null;
      renderState();
    });
  return connecting;
}

/** Read what changed since the stored cursor; the first time (cursor 0) only learns the days. */
async function catchUp() {
  let cursor = await get("cursor", 0);
  const first = cursor === 0;
  const days = new Set();
  for (;;) {
    const response = await api(`/sync?cursor=${cursor}`);
    if (!response.ok) throw new Unreachable(`sync answered ${response.status}`);
    const page = await response.json();
    for (const change of page.changes) {
      const day = change.service_date || (change.payload && change.payload.service_date);
      if (day) days.add(day);
      if (!first) await notice(change);
    }
    cursor = page.cursor;
    await put("cursor", cursor);
    if (!page.more) break;
  }
  if (!new URLSearchParams(location.search).get("date")) {
    state.day = chooseDay(days, await get("day"));
    await put("day", state.day);
  }
}

/** Today when I have work today, else my next day with work, else the last one I had. */
function chooseDay(days, current) {
  const today = new Date().toLocaleDateString("sv"); // YYYY-MM-DD on the phone's calendar
  const known = [...days, ...(current ? [current] : [])].sort();
  if (known.includes(today) || known.length === 0) return today;
  return known.find((day) => day > today) || known[known.length - 1];
}

async function refreshRoute() {
  if (!state.day) return;
  const response = await api(`/me/route?date=${state.day}`);
  if (response.status === 403) {
    await put("problem", "This account is not linked to a technician.");
  } else if (response.ok) {
    await db.routes.put(await response.json());
  }
  if (state.view === "route") await renderRoute();
  if (state.view === "job") await renderJob();
}

async function refreshVan() {
  const response = await api("/me/van");
  if (response.ok) await put("van", await response.json());
}

let live = null;

function stopLive() {
  if (live) live.abort();
  live = null;
}

/** Follow /events (fetch-streamed SSE: EventSource cannot send a bearer token) from the
 * stored cursor; when the stream ends or breaks, catch up with /sync and follow again. */
function startLive() {
  if (live) return;
  const controller = new AbortController();
  live = controller;
  (async () => {
    let delay = 1000;
    while (live === controller) {
      const ok = await guarded(async () => {
        const cursor = await get("cursor", 0);
        const response = await api("/events", {
          headers: { "Last-Event-ID": String(cursor), Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (!response.ok) throw new Unreachable(`events answered ${response.status}`);
        state.reachable = true;
        renderState();
        try {
          await readEvents(response.body, controller.signal);
        } catch (error) {
          if (error.name === "AbortError") throw error;
          throw new Unreachable(`the stream broke: ${error}`); // offline, or the server went
        }
        return true;
      });
      if (live !== controller) return;
      delay = ok ? 1000 : Math.min(delay * 2, 30000);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (navigator.onLine && live === controller) {
        await guarded(async () => {
          await catchUp();
          await refreshRoute();
        });
      }
    }
  })();
}

async function readEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      await handleEvent(block);
    }
  }
}

let reloadTimer = null;

async function handleEvent(block) {
  const fields = { data: [] };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "data") fields.data.push(value);
    else fields[name] = value;
  }
  if (!fields.id || fields.data.length === 0) return;
  const change = { id: Number(fields.id), kind: fields.event, ...JSON.parse(fields.data.join("\n")) };
  await notice(change);
  await put("cursor", change.id);
  clearTimeout(reloadTimer); // a re-plan sends many entries at once: re-read the route once
  reloadTimer = setTimeout(() => guarded(refreshRoute), 300);
}

// --- notices: what changed and why ------------------------------------------------------

async function notice(change) {
  let text = null;
  if (change.kind === "route.published") {
    const p = change.payload || {};
    const day = change.service_date || p.service_date;
    const parts = [];
    if (p.added && p.added.length) parts.push(`added ${p.added.join(", ")}`);
    if (p.removed && p.removed.length) parts.push(`removed ${p.removed.join(", ")}`);
    const why = p.reason ? ` (${p.reason})` : "";
    text = `Your route${day ? ` for ${day}` : ""} was re-planned${why}${parts.length ? ": " + parts.join("; ") : ""}`;
  } else if (change.kind === "job.removed") {
    text = `${change.job} was removed from your route: ${change.reason || "changed by the dispatcher"}`;
  } else if (change.kind === "job.changed") {
    text = await jobNews(change);
  }
  if (!text) return;
  const notices = await get("notices", []);
  notices.unshift({ text, at: new Date().toISOString() });
  await put("notices", notices.slice(0, 20));
  await renderNotices();
}

/** What a job's change means to the technician, or null when it is news from this phone. */
async function jobNews(change) {
  const day = await db.routes.get(change.service_date || "");
  const stop = day && day.stops.find((s) => s.job && s.job.reference === change.job);
  if (!stop) return `${change.job} was added to your route for ${change.service_date}`;
  if (change.planned_start && change.planned_start !== stop.job.planned_start) {
    return `${change.job} now planned at ${clock(change.planned_start, change.service_date)}`;
  }
  if (!outbox.UNDER_WAY.includes(change.status) && change.status !== stop.job.status) {
    return `${change.job} is now ${STATUS_LABELS[change.status] || change.status}`;
  }
  return null;
}

async function renderNotices() {
  const notices = await get("notices", []);
  $("#notices").replaceChildren(
    ...notices.slice(0, 5).map((n) => h("li", {}, `${zoned(n.at)} · ${n.text}`)),
  );
}

// --- the local copy with the outbox laid over it --------------------------------------------

async function route() {
  const day = state.day ? await db.routes.get(state.day) : undefined;
  if (day) state.zone = day.timezone;
  return day;
}

/** A job's card as the phone knows it: the stored card with the changes still waiting. */
function overlay(card, entries) {
  const job = structuredClone(card);
  job.used = job.used || [];
  job.waiting = [];
  for (const entry of entries) {
    if (entry.job !== job.reference || entry.state !== "pending") continue;
    job.waiting.push(entry);
    if (entry.type === "status") job.status = entry.payload.status;
    if (entry.type === "note") job.notes.push({ id: entry.id, body: entry.payload.body, device_time: entry.device_time, waiting: true });
    if (entry.type === "parts_used") job.used.push(...entry.payload.lines.map((l) => ({ ...l, waiting: true })));
    if (entry.type === "photo" || entry.type === "signature") job.attachments.push({ id: entry.id, kind: entry.type, waiting: true });
  }
  return job;
}

/** The server took a change: keep it in the stored card until the route is read again. */
async function applySent(entry, answer) {
  const day = await route();
  if (!day) return;
  for (const stop of day.stops) {
    const job = stop.job;
    if (!job || job.reference !== entry.job) continue;
    if (entry.type === "status") job.status = answer.job_status;
    if (entry.type === "note") job.notes.push(answer.note);
    if (entry.type === "parts_used") job.used = [...(job.used || []), ...answer.lines];
    if (entry.type === "photo" || entry.type === "signature") job.attachments.push(answer);
  }
  await db.routes.put(day);
}

// --- views ------------------------------------------------------------------------------------

async function show(view, reference = null) {
  state.view = view;
  if (reference) state.job = reference;
  $("#route").hidden = view !== "route";
  $("#job").hidden = view !== "job";
  $("#outbox").hidden = view !== "outbox";
  if (view === "route") await renderRoute();
  if (view === "job") await renderJob();
  if (view === "outbox") await renderOutbox();
  window.scrollTo(0, 0);
}

async function renderState() {
  const waiting = (await outbox.pending()).length;
  const online = navigator.onLine && state.reachable;
  $("#waiting-count").textContent = String(waiting);
  $("#sync-state").textContent = !online ? "offline" : waiting ? "sending…" : "online";
  $("#sync-state").className = online ? (waiting ? "sending" : "online") : "offline";
}

function navigateLink(latitude, longitude, label) {
  if (latitude === null || latitude === undefined) return null;
  const href = `geo:${latitude},${longitude}?q=${latitude},${longitude}(${encodeURIComponent(label)})`;
  return h("a", { class: "navigate button", href }, "Navigate");
}

async function renderRoute() {
  const day = await route();
  const entries = await outbox.all();
  $("#route-date").textContent = state.day || "";
  $("#route-empty").hidden = Boolean(day && day.stops.length);
  const stops = day ? day.stops : [];
  $("#stops").replaceChildren(...stops.map((stop) => renderStop(stop, entries)));
}

function renderStop(stop, entries) {
  if (stop.type === "break") {
    return h("li", { class: "stop break" }, h("strong", {}, "Break"), ` ${clock(stop.start)}–${clock(stop.end)}`);
  }
  if (stop.type === "warehouse") {
    const w = stop.warehouse || {};
    return h(
      "li",
      { class: "stop warehouse" },
      h("h2", {}, `Pick up at ${w.name || w.code}`),
      h("p", { class: "arrival" }, `Planned ${clock(stop.start)}`),
      w.address ? h("p", { class: "address" }, w.address) : null,
      h("ul", { class: "pickup" }, ...(stop.pickup || []).map((p) => h("li", {}, `${p.sku} × ${p.quantity}`))),
      navigateLink(w.latitude, w.longitude, w.name || w.code),
    );
  }
  const job = overlay(stop.job, entries);
  const site = job.site;
  const contact = [job.contact.name, job.contact.phone].filter(Boolean).join(" · ");
  return h(
    "li",
    { class: `stop job status-${job.status}`, "data-job": job.reference },
    h("a", { class: "open-job", href: `#job/${job.reference}` }, h("span", { class: "ref" }, job.reference), ` ${job.title}`),
    h("p", { class: "times" }, h("span", { class: "arrival" }, `Planned ${clock(stop.arrival)}`), " · ", h("span", { class: "eta" }, `ETA ${clock(stop.eta)}`)),
    h("p", { class: "status" }, STATUS_LABELS[job.status] || job.status, job.waiting.length ? " (waiting to send)" : ""),
    h("p", { class: "address" }, site.address || site.name),
    contact ? h("p", { class: "contact" }, contact) : null,
    site.access_notes ? h("p", { class: "access" }, `Access: ${site.access_notes}`) : null,
    job.parts.length ? h("p", { class: "parts" }, "Bring: ", job.parts.map((p) => `${p.sku} × ${p.quantity}`).join(", ")) : null,
    navigateLink(site.latitude, site.longitude, site.address || site.name),
  );
}

async function findStop(reference) {
  const day = await route();
  return day && day.stops.find((s) => s.job && s.job.reference === reference);
}

async function renderJob() {
  const section = $("#job");
  const stop = await findStop(state.job);
  if (!stop) {
    delete section.dataset.job;
    section.replaceChildren(h("p", {}, `${state.job} is no longer on your route.`), backButton());
    return;
  }
  const job = overlay(stop.job, await outbox.all());
  if (section.dataset.job !== job.reference || !$("#note", section)) {
    section.dataset.job = job.reference;
    section.replaceChildren(...(await jobForm(job)));
    setUpSignature($("#signature", section));
  }
  // Only what the job's news changes is redrawn: what the technician is typing or
  // drawing stays as it is.
  const allowed = outbox.NEXT[job.status] || [];
  const underWay = outbox.UNDER_WAY.includes(job.status);
  const van = await get("van", { parts: [] });
  for (const button of section.querySelectorAll("button[data-status]")) {
    button.disabled = !allowed.includes(button.dataset.status);
  }
  const select = $("#part-sku", section);
  if (select.options.length === 0) fill(select, vanOptions(van)); // the van was read since
  $("#add-part", section).disabled = !underWay || van.parts.length === 0;
  $("#parts-hint", section).hidden = underWay;
  fill($(".details", section), jobDetails(job, stop));
  fill($("#parts-used", section), job.used.map((l) => h("li", { class: l.waiting ? "waiting" : null }, `Used ${l.sku} × ${l.quantity}${l.waiting ? " (waiting)" : ""}`)));
  fill($("#notes", section), job.notes.map((n) => h("li", { class: n.waiting ? "waiting" : null }, n.body)));
  fill($("#photos", section), (previews.get(job.reference) || []).map((src) => h("img", { src, alt: "Photo taken here", class: "preview" })));
  const waiting = job.attachments.some((a) => a.waiting) ? ", some waiting to be sent" : "";
  $("#attachments", section).textContent = `${job.attachments.length} photo(s) and signature(s)${waiting}`;
  fill(
    $("#past-visits", section),
    job.past_visits.map((v) => h("li", {}, `${v.date || "–"} ${v.reference} ${STATUS_LABELS[v.status] || v.status}${v.technician ? ` · ${v.technician}` : ""}${v.outcome_note ? `: ${v.outcome_note}` : ""}`)),
  );
  $("#no-past-visits", section).hidden = job.past_visits.length > 0;
}

function vanOptions(van) {
  return van.parts.map((p) => h("option", { value: p.sku }, `${p.sku} ${p.name} (${p.on_hand} in the van)`));
}

function fill(element, children) {
  element.replaceChildren(...children.filter(Boolean));
}

function jobDetails(job, stop) {
  const contact = job.contact;
  const site = job.site;
  return [
    h("p", { class: "status" }, STATUS_LABELS[job.status] || job.status),
    h("p", { class: "times" }, `Planned ${clock(stop.arrival)}–${clock(stop.end)} · ETA ${clock(stop.eta)}`),
    job.window_start ? h("p", {}, `Window ${clock(job.window_start)}–${clock(job.window_end)}`) : null,
    h("p", { class: "address" }, site.address || site.name),
    contact.name || contact.phone
      ? h("p", { class: "contact" }, contact.name || "", contact.phone ? h("a", { href: `tel:${contact.phone}` }, ` ${contact.phone}`) : null)
      : null,
    site.access_notes ? h("p", { class: "access" }, `Access: ${site.access_notes}`) : null,
    job.description ? h("p", { class: "description" }, job.description) : null,
    job.parts.length ? h("p", { class: "parts" }, "To bring: ", job.parts.map((p) => `${p.sku} × ${p.quantity}`).join(", ")) : null,
    navigateLink(site.latitude, site.longitude, site.address || site.name),
  ];
}

/** The job's page: drawn once when the job opens; renderJob updates its changing parts. */
async function jobForm(job) {
  const van = await get("van", { parts: [] });
  const ticks = await get(`checklist:${job.reference}`, []);
  return [
    backButton(),
    h("h1", {}, `${job.reference} ${job.title}`),
    h("div", { class: "details" }),
    h("div", { class: "statuses" }, ...BUTTONS.map(([status, label]) => h("button", { type: "button", "data-status": status, onclick: () => setStatus(job, status) }, label))),
    h(
      "div",
      { id: "cannot-complete", hidden: true },
      h("label", { for: "reason" }, "Why can the job not be completed?"),
      h("textarea", { id: "reason", rows: 3, maxlength: 2000 }),
      h("button", { type: "button", id: "confirm-cannot-complete", onclick: () => cannotComplete(job) }, "Confirm: cannot complete"),
    ),
    h("h2", {}, "Checklist"),
    h(
      "ul",
      { id: "checklist" },
      ...job.checklist.map((step, i) =>
        h("li", {}, h("label", {}, h("input", { type: "checkbox", checked: ticks.includes(i), onchange: (e) => tick(job.reference, i, e.target.checked) }), ` ${step}`)),
      ),
    ),
    job.checklist.length ? null : h("p", { class: "hint" }, "No checklist for this job."),
    h("h2", {}, "Parts used"),
    h("ul", { id: "parts-used" }),
    h(
      "div",
      { class: "row" },
      h("select", { id: "part-sku", "aria-label": "Part" }, ...vanOptions(van)),
      h("input", { id: "part-quantity", type: "number", min: 1, max: 10000, value: 1, inputmode: "numeric", "aria-label": "Quantity" }),
      h("button", { type: "button", id: "add-part", onclick: () => addPart(job) }, "Add"),
    ),
    h("p", { class: "hint", id: "parts-hint" }, "Parts can be recorded once you are en route."),
    h("h2", {}, "Notes"),
    h("ul", { id: "notes" }),
    h("textarea", { id: "note", rows: 3, maxlength: 4000, "aria-label": "Note" }),
    h("button", { type: "button", id: "save-note", onclick: () => saveNote(job) }, "Save note"),
    h("h2", {}, "Photo"),
    h("label", { class: "button", for: "photo" }, "Take a photo"),
    h("input", { id: "photo", type: "file", accept: "image/*", capture: "environment", class: "visually-hidden", onchange: (e) => savePhoto(job, e.target) }),
    h("div", { id: "photos" }),
    h("p", { id: "attachments" }),
    h("h2", {}, "Customer's signature"),
    h("canvas", { id: "signature", width: 340, height: 160 }),
    h(
      "div",
      { class: "row" },
      h("button", { type: "button", id: "clear-signature", onclick: clearSignature }, "Clear"),
      h("button", { type: "button", id: "save-signature", onclick: () => saveSignature(job) }, "Save signature"),
    ),
    h("h2", {}, "Past visits"),
    h("ul", { id: "past-visits" }),
    h("p", { class: "hint", id: "no-past-visits" }, "No earlier visits here."),
  ].filter(Boolean);
}

function backButton() {
  return h("button", { type: "button", id: "back", onclick: backToRoute }, "← Today");
}

function backToRoute() {
  history.replaceState(null, "", location.pathname + location.search); // no #job/ any more
  show("route");
}

async function renderOutbox() {
  const entries = await outbox.all();
  $("#outbox-empty").hidden = entries.length > 0;
  $("#outbox-items").replaceChildren(
    ...entries.map((entry) => {
      const what = `${outbox.LABELS[entry.type]}${entry.type === "status" ? ` ${STATUS_LABELS[entry.payload.status]}` : ""}`;
      const made = `made ${zoned(entry.device_time)}`;
      if (entry.state === "pending") {
        return h("li", { class: "pending" }, h("strong", {}, what), ` · ${entry.job} · ${made}`);
      }
      return h(
        "li",
        { class: "refused" },
        h("strong", {}, what),
        ` · ${entry.job} · ${made}`,
        h("p", { class: "reason" }, entry.reason),
        h("button", { type: "button", class: "retry", onclick: () => outbox.retry(entry.seq) }, "Retry"),
        h("button", { type: "button", class: "discard", onclick: () => outbox.discard(entry.seq) }, "Discard"),
      );
    }),
  );
}

// --- changes -----------------------------------------------------------------------------------

function setStatus(job, status) {
  if (status === "cannot_complete") {
    $("#cannot-complete").hidden = false;
    $("#reason").focus();
    return;
  }
  outbox.queue("status", job.reference, { status });
}

function cannotComplete(job) {
  const reason = $("#reason").value.trim();
  if (!reason) {
    $("#reason").focus();
    return;
  }
  outbox.queue("status", job.reference, { status: "cannot_complete", reason });
}

async function tick(reference, index, checked) {
  const ticks = new Set(await get(`checklist:${reference}`, []));
  if (checked) ticks.add(index);
  else ticks.delete(index);
  await put(`checklist:${reference}`, [...ticks]);
}

function addPart(job) {
  const sku = $("#part-sku").value;
  const quantity = Number.parseInt($("#part-quantity").value, 10);
  if (!sku || !(quantity >= 1)) return;
  outbox.queue("parts_used", job.reference, { lines: [{ id: crypto.randomUUID(), sku, quantity }] });
}

function saveNote(job) {
  const body = $("#note").value.trim();
  if (!body) return;
  $("#note").value = "";
  outbox.queue("note", job.reference, { body });
}

async function savePhoto(job, input) {
  const file = input.files && input.files[0];
  if (!file) return;
  const blob = new Blob([await file.arrayBuffer()], { type: file.type || "image/jpeg" });
  previews.set(job.reference, [...(previews.get(job.reference) || []), URL.createObjectURL(blob)]);
  await outbox.queue("photo", job.reference, { blob });
}

/** The photos taken on each job since the app opened, shown under the job (blob: URLs). */
const previews = new Map();

let signed = false;

function setUpSignature(canvas) {
  const context = canvas.getContext("2d");
  context.lineWidth = 3;
  context.lineCap = "round";
  context.strokeStyle = "#000";
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  signed = false;
  let last = null;
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const next = point(event);
    context.beginPath();
    context.moveTo(...last);
    context.lineTo(...next);
    context.stroke();
    last = next;
    signed = true;
  });
  const end = () => (last = null);
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

function clearSignature() {
  setUpSignature($("#signature"));
}

function saveSignature(job) {
  if (!signed) return;
  $("#signature").toBlob((blob) => {
    outbox.queue("signature", job.reference, { blob });
    clearSignature();
  }, "image/png");
}

// --- navigation between the views --------------------------------------------------------------

$("#stops").addEventListener("click", (event) => {
  if (event.target.closest("a.navigate")) return; // the maps app
  const stop = event.target.closest("li.stop.job");
  if (!stop) return;
  event.preventDefault();
  const target = `#job/${encodeURIComponent(stop.dataset.job)}`;
  if (location.hash === target) show("job", stop.dataset.job);
  else location.hash = target; // shown by the hashchange
});

window.addEventListener("hashchange", () => {
  const match = /^#job\/(.+)$/.exec(location.hash);
  if (match) show("job", decodeURIComponent(match[1]));
  else if (state.view === "job") show("route");
});

start();
