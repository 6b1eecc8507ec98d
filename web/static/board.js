// The dispatcher's board: a row per technician across the day (vis-timeline), the jobs
// left unassigned with their reasons, edits checked by the server, optimization with live
// progress and proposals to accept or discard, all following the dispatchers' event stream.
// Nothing here decides: every change is asked of the server, and the board shows its verdict.
"use strict";

const root = document.getElementById("board");
const day = root.dataset.day;
const api = root.dataset.api; // /api/v1/plans/<day>
const verdict = document.getElementById("verdict");
const details = document.getElementById("details");
const unassignedList = document.getElementById("unassigned");
const progress = document.getElementById("progress");
const proposalPane = document.getElementById("proposal");
const liveState = document.getElementById("live");
const jobPicker = document.getElementById("job-picker");

let version = null; // the published version the board shows (the If-Match of edits)
let offset = "+00:00"; // the service day's UTC offset, in which every time is shown
let board = null;
let shownText = null; // the board's JSON as last drawn
let fitted = false; // the view is fitted to the day once, then left where the dispatcher puts it
const items = new vis.DataSet();
const groups = new vis.DataSet();
const timeline = new vis.Timeline(document.getElementById("timeline"), items, groups, {
  stack: false,
  editable: { updateTime: true, updateGroup: true, add: false, remove: false, overrideItems: false },
  orientation: "top",
  zoomMin: 30 * 60 * 1000,
  moment: (date) => vis.moment(date).utcOffset(offset),
  onMove: (item, callback) => moveJob(item, callback),
});
timeline.on("select", (properties) => showDetails(properties.items[0]));

function say(text, kind) {
  verdict.textContent = text;
  verdict.className = "verdict " + (kind || "");
}

async function call(method, path, body, extraHeaders) {
  const headers = { Accept: "application/json", ...(extraHeaders || {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch (error) {
    answer = null;
  }
  return { ok: response.ok, status: response.status, body: answer };
}

function problemText(answer) {
  if (!answer || !answer.body) return "the server did not answer";
  const body = answer.body;
  const reasons = (body.errors || []).map((e) => e.message || e.cause).filter(Boolean);
  return [body.detail || body.title].concat(reasons).join(" — ");
}

function local(iso) {
  return iso ? vis.moment(iso).utcOffset(offset).format("HH:mm") : "—";
}

async function load() {
  const answer = await call("GET", api + "/board");
  if (!answer.ok) {
    say(problemText(answer), "refused");
    return;
  }
  const text = JSON.stringify(answer.body);
  if (text === shownText) return; // nothing changed: keep the selection and the view
  shownText = text;
  board = answer.body;
  version = board.version;
  offset = offsetOf(board) || offset;
  timeline.setOptions({ moment: (date) => vis.moment(date).utcOffset(offset) });
  groups.clear();
  items.clear();
  const shown = [];
  for (const tech of board.technicians) {
    groups.add({ id: tech.code, content: `${tech.code} ${tech.name}` });
    if (tech.shift_start && tech.shift_end) {
      shown.push({ id: `shift-${tech.code}`, group: tech.code, start: tech.shift_start, end: tech.shift_end, type: "background", className: "shift" });
    }
    tech.items.forEach((item, index) => shown.push(boardItem(tech, item, index)));
  }
  items.add(shown);
  renderJobPicker();
  renderUnassigned(board.unassigned);
  if (shown.length && !fitted) {
    timeline.fit({ animation: false });
    fitted = true;
  }
}

// The day's UTC offset, as the server writes it at the end of every time ("+01:00").
function offsetOf(found) {
  const times = found.technicians.flatMap((t) => [t.shift_start, ...t.items.map((i) => i.start)]);
  const first = times.find(Boolean);
  return first ? first.slice(-6) : null;
}

function boardItem(tech, item, index) {
  const base = { group: tech.code, start: item.start, end: item.end, editable: false };
  if (item.kind === "job") {
    const classes = ["job", `priority-${item.priority}`, `status-${item.status}`];
    if (item.sla_risk) classes.push("sla-risk");
    if (item.pinned) classes.push("pinned");
    return {
      ...base,
      id: `job-${item.reference}`,
      job: item.reference,
      content: `${item.reference}${item.sla_risk ? " ⚠" : ""}`,
      title: `${item.reference} ${item.title || ""} · ${item.priority} · ${item.status} · ${local(item.start)}–${local(item.end)}${item.sla_due ? " · SLA " + local(item.sla_due) : ""}`,
      className: classes.join(" "),
      editable: { updateTime: true, updateGroup: true, remove: false },
    };
  }
  const label = item.kind === "warehouse" ? `⌂ ${item.warehouse || ""}` : item.kind === "break" ? "break" : "";
  return { ...base, id: `${tech.code}-${item.kind}-${index}`, content: label, className: item.kind, selectable: false };
}

// The keyboard's way onto the timeline, whose items take no focus: pick a routed job, and
// the details pane offers what a click would.
function renderJobPicker() {
  const chosen = jobPicker.value;
  jobPicker.replaceChildren(new Option("— choose a routed job —", ""));
  for (const tech of board.technicians) {
    for (const item of tech.items.filter((i) => i.kind === "job")) {
      jobPicker.add(new Option(`${item.reference} · ${tech.code} ${local(item.start)}`, `job-${item.reference}`));
    }
  }
  jobPicker.value = items.get(chosen) ? chosen : "";
}

jobPicker.addEventListener("change", () => {
  timeline.setSelection(jobPicker.value ? [jobPicker.value] : [], { focus: Boolean(jobPicker.value) });
  showDetails(jobPicker.value);
});

function technicianPicker(label) {
  const pick = document.createElement("select");
  pick.setAttribute("aria-label", label);
  for (const tech of board.technicians) pick.add(new Option(`${tech.code} ${tech.name}`, tech.code));
  return pick;
}

function renderUnassigned(jobs) {
  unassignedList.replaceChildren();
  if (!jobs.length) {
    const none = document.createElement("li");
    none.textContent = "Every job is on a route.";
    unassignedList.append(none);
  }
  for (const job of jobs) {
    const row = document.createElement("li");
    row.className = `priority-${job.priority}`;
    const text = document.createElement("span");
    text.textContent = `${job.reference} ${job.title || ""} (${job.priority}) — ${job.reason || "not planned"}`;
    const pick = technicianPicker(`Technician for ${job.reference}`);
    const assign = button("Assign", () => edit({ action: "assign", job: job.reference, technician: pick.value }));
    const candidates = button("Candidates", () => showCandidates(job.reference));
    row.append(text, " ", pick, " ", assign, " ", candidates);
    unassignedList.append(row);
  }
}

function button(label, action) {
  const made = document.createElement("button");
  made.type = "button";
  made.textContent = label;
  made.addEventListener("click", action);
  return made;
}

// A job dropped on a technician at a time becomes "this technician, at this place in
// their route": the place is how many of their other jobs start before the drop.
function positionAt(technician, start, job) {
  const tech = board.technicians.find((t) => t.code === technician);
  if (!tech) return 0;
  const when = new Date(start).getTime();
  return tech.items.filter((i) => i.kind === "job" && i.reference !== job && new Date(i.start).getTime() < when).length;
}

async function moveJob(item, callback) {
  const position = positionAt(item.group, item.start, item.job);
  const accepted = await edit({ action: "move", job: item.job, technician: item.group, position });
  callback(accepted ? item : null); // refused: the job goes back where it was
}

async function edit(change) {
  say(`Checking ${change.action} of ${change.job}…`, "pending");
  const answer = await call("POST", api + "/edits", change, { "If-Match": `"${version}"` });
  if (answer.ok) {
    const warnings = (answer.body.warnings || []).map((w) => w.message);
    await load();
    say(`Accepted: ${change.job} ${describe(change)}` + (warnings.length ? ` — warnings: ${warnings.join("; ")}` : ""), warnings.length ? "warned" : "accepted");
    return true;
  }
  if (answer.status === 409) {
    say(`Someone changed the plan first: ${problemText(answer)}. The board shows the current plan.`, "refused");
    await load();
    return false;
  }
  say(`Refused: ${problemText(answer)}`, "refused");
  return false;
}

function describe(change) {
  if (change.action === "unassign") return "is unassigned";
  if (change.action === "unpin") return "is unpinned";
  if (change.action === "pin") return `is pinned to ${change.technician}`;
  return `goes to ${change.technician}` + (change.position !== undefined ? ` as stop ${change.position + 1}` : "");
}

function showDetails(id) {
  details.replaceChildren();
  const item = id && items.get(id);
  if (!item || !item.job) return;
  const owner = item.group;
  const heading = document.createElement("h3");
  heading.textContent = item.title;
  const target = technicianPicker(`Move ${item.job} to`);
  target.value = owner;
  details.append(
    heading,
    target,
    " ",
    button("Move (best place)", () => edit({ action: "move", job: item.job, technician: target.value })),
    " ",
    button("Pin here", () => edit({ action: "pin", job: item.job, technician: owner, position: positionAt(owner, item.start, item.job) })),
    " ",
    button("Unpin", () => edit({ action: "unpin", job: item.job })),
    " ",
    button("Unassign", () => edit({ action: "unassign", job: item.job })),
  );
}

async function showCandidates(job) {
  const answer = await call("GET", `${api}/candidates/${encodeURIComponent(job)}`);
  details.replaceChildren();
  const heading = document.createElement("h3");
  heading.textContent = `Who could take ${job}`;
  details.append(heading);
  if (!answer.ok) {
    say(problemText(answer), "refused");
    return;
  }
  const list = document.createElement("ol");
  for (const offer of answer.body.candidates) {
    const row = document.createElement("li");
    row.append(
      `${offer.technician}: arrives ${local(offer.arrival)}, +${offer.added_travel_min} min travel, ${offer.lateness_min} min late `,
      button("Assign", () => edit({ action: "assign", job, technician: offer.technician, position: offer.position })),
    );
    list.append(row);
  }
  if (!answer.body.candidates.length) list.append(answer.body.reason || "Nobody can take it without a re-plan.");
  details.append(list);
}

// --- optimization and proposals -------------------------------------------------------

document.getElementById("optimize").addEventListener("click", async () => {
  const seconds = Number(document.getElementById("seconds").value) || 10;
  const answer = await call("POST", api + "/runs", { time_limit_s: seconds });
  if (!answer.ok) {
    say(problemText(answer), "refused");
    return;
  }
  follow(answer.body.id);
});

async function follow(runId) {
  for (;;) {
    const answer = await call("GET", `${api}/runs/${runId}`);
    if (!answer.ok) {
      progress.textContent = problemText(answer);
      return;
    }
    const run = answer.body;
    const served = run.served ? Object.entries(run.served).map(([p, n]) => `${p} ${n}`).join(", ") : "—";
    progress.textContent = `Optimizing: ${run.state}` + (run.best_score !== null ? ` · best score ${run.best_score} · jobs served ${served}` : "") + (run.elapsed_s ? ` · ${Math.round(run.elapsed_s)} s` : "");
    if (run.state === "succeeded" && run.proposal_id) {
      await review(run.proposal_id);
      return;
    }
    if (["failed", "cancelled"].includes(run.state)) {
      progress.textContent = `Optimization ${run.state}${run.error ? ": " + run.error : ""}`;
      return;
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

async function review(planId) {
  const answer = await call("GET", `${api}/proposals/${planId}`);
  if (!answer.ok) {
    say(problemText(answer), "refused");
    return;
  }
  const plan = answer.body;
  const diff = plan.diff || {};
  const deltas = diff.deltas || {};
  proposalPane.replaceChildren();
  proposalPane.hidden = false;
  const heading = document.createElement("h2");
  heading.textContent = `Proposal ${plan.id}: ${plan.reason}` + (plan.stale ? " (built on an older plan)" : "");
  const figures = document.createElement("p");
  figures.className = "deltas";
  figures.textContent = `Score ${signed(deltas.score)} · travel ${signed(deltas.travel_minutes)} min · late ${signed(deltas.late_minutes)} min · served ` +
    Object.entries(deltas.served || {}).map(([p, n]) => `${p} ${signed(n)}`).join(", ");
  const moves = document.createElement("ul");
  moves.className = "moves";
  for (const m of diff.moved || []) moves.append(listItem(`${m.job}: ${m.from} → ${m.to}`));
  for (const job of diff.added || []) moves.append(listItem(`${job}: planned now`));
  for (const job of diff.removed || []) moves.append(listItem(`${job}: left out`));
  if (!moves.children.length) moves.append(listItem("No job changes technician."));
  const onMap = document.createElement("a");
  onMap.href = `${root.dataset.map}?plan=${plan.id}`;
  onMap.textContent = "See it on the map";
  proposalPane.append(
    heading,
    figures,
    moves,
    onMap,
    " ",
    button("Accept", async () => {
      const decided = await call("POST", `${api}/proposals/${plan.id}/publish`, {});
      await load();
      proposalPane.hidden = decided.ok;
      say(decided.ok ? `Proposal ${plan.id} is the day's plan (version ${decided.body.version}).` : `Not accepted: ${problemText(decided)}`, decided.ok ? "accepted" : "refused");
    }),
    " ",
    button("Discard", async () => {
      const decided = await call("POST", `${api}/proposals/${plan.id}/discard`, {});
      say(decided.ok ? `Proposal ${plan.id} discarded.` : problemText(decided), decided.ok ? "accepted" : "refused");
      proposalPane.hidden = decided.ok;
    }),
  );
}

function signed(value) {
  if (value === undefined || value === null) return "±0";
  return value > 0 ? `+${value}` : `${value}`;
}

function listItem(text) {
  const item = document.createElement("li");
  item.textContent = text;
  return item;
}

async function openProposals() {
  const answer = await call("GET", api + "/proposals");
  if (answer.ok && answer.body.proposals.length) await review(answer.body.proposals[0].id);
}

// --- live -----------------------------------------------------------------------------

let reloading = null;
function reloadSoon() {
  clearTimeout(reloading);
  reloading = setTimeout(() => {
    load();
    openProposals();
  }, 300);
}

const stream = new EventSource(root.dataset.events);
stream.onopen = () => (liveState.textContent = "live");
stream.onerror = () => (liveState.textContent = "reconnecting…");
for (const kind of ["job.changed", "job.removed", "route.published", "plan.proposed"]) {
  stream.addEventListener(kind, reloadSoon);
}

load().then(openProposals);
