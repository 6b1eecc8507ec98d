// KPIs over a date range (and optionally one technician), drawn with Chart.js from
// GET /api/v1/kpis: the range's totals as figures, SLA compliance and travel per job by day,
// utilization and on-time arrival per technician, the backlog by age.
"use strict";

const form = document.getElementById("kpi-range");
const totals = document.getElementById("totals");
const status = document.getElementById("kpi-status");
const charts = {};

function percent(share) {
  return share && share.rate !== null ? Math.round(share.rate * 1000) / 10 : null;
}

function figure(label, value, unit) {
  const box = document.createElement("div");
  box.className = "figure";
  const number = document.createElement("strong");
  number.textContent = value === null || value === undefined ? "—" : `${value}${unit || ""}`;
  const caption = document.createElement("span");
  caption.textContent = label;
  box.append(number, caption);
  return box;
}

function chart(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById(id), { ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, ...(config.options || {}) } });
}

async function load() {
  const query = new URLSearchParams(new FormData(form));
  if (!query.get("technician")) query.delete("technician");
  const response = await fetch(`${form.dataset.api}?${query}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const reasons = ((answer && answer.errors) || []).map((e) => `${e.field}: ${e.message}`);
    status.textContent = [(answer && answer.detail) || "The figures could not be read."].concat(reasons).join(" — ");
    return;
  }
  status.textContent = `${answer.from} to ${answer.to} · ${answer.timezone}` + (answer.technician ? ` · ${answer.technician}` : "");
  const total = answer.total;
  totals.replaceChildren(
    figure("resolution SLA met", percent(total.resolution_sla), " %"),
    figure("response SLA met", percent(total.response_sla), " %"),
    figure("median time to resolve", total.median_resolve_minutes === null ? null : Math.round(total.median_resolve_minutes), " min"),
    figure("first-time fix", percent(total.first_time_fix), " %"),
    figure("travel per job", total.travel_per_job_minutes === null ? null : Math.round(total.travel_per_job_minutes * 10) / 10, " min"),
    figure("customer satisfaction", answer.satisfaction),
  );
  const days = answer.days.map((d) => d.day);
  chart("sla-chart", {
    type: "line",
    data: {
      labels: days,
      datasets: [
        { label: "resolution SLA met (%)", data: answer.days.map((d) => percent(d.resolution_sla)), borderColor: "#1d3557", spanGaps: true },
        { label: "response SLA met (%)", data: answer.days.map((d) => percent(d.response_sla)), borderColor: "#2a9d8f", spanGaps: true },
        { label: "first-time fix (%)", data: answer.days.map((d) => percent(d.first_time_fix)), borderColor: "#f4a261", spanGaps: true },
      ],
    },
    options: { scales: { y: { min: 0, max: 100 } } },
  });
  chart("travel-chart", {
    type: "bar",
    data: { labels: days, datasets: [{ label: "travel per job (min)", data: answer.days.map((d) => d.travel_per_job_minutes), backgroundColor: "#4c6ef5" }] },
  });
  const techs = answer.technicians;
  chart("technician-chart", {
    type: "bar",
    data: {
      labels: techs.map((t) => t.code),
      datasets: [
        { label: "utilization (%)", data: techs.map((t) => (t.utilization === null ? null : Math.round(t.utilization * 1000) / 10)), backgroundColor: "#1d3557" },
        { label: "on-time arrival (%)", data: techs.map((t) => percent(t.on_time_arrival)), backgroundColor: "#2a9d8f" },
      ],
    },
    options: { scales: { y: { min: 0, max: 100 } } },
  });
  chart("backlog-chart", {
    type: "bar",
    data: { labels: Object.keys(answer.backlog), datasets: [{ label: "open jobs by age", data: Object.values(answer.backlog), backgroundColor: "#c05600" }] },
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
load();
