// The day on a map (Leaflet): each technician's route as a line in their colour, jobs as
// markers coloured by status (ringed in the technician's colour; grey when unassigned),
// warehouses as squares. With no tile URL configured there is no basemap: the routes and
// places still show, and the page works with no internet. Follows the dispatchers' stream.
"use strict";

const root = document.getElementById("map");
const STATUS_COLOURS = {
  scheduled: "#4c6ef5",
  dispatched: "#4c6ef5",
  en_route: "#2a9d8f",
  on_site: "#2a9d8f",
  paused: "#f08c00",
  completed: "#868e96",
  cannot_complete: "#b00020",
};

const map = L.map(root, { preferCanvas: false, zoomSnap: 0.25 });
if (root.dataset.tiles) {
  L.tileLayer(root.dataset.tiles, { maxZoom: 19, attribution: root.dataset.attribution || "" }).addTo(map);
}
let layer = null;
let fitted = false;

function describe(properties) {
  const lines = [`${properties.reference} ${properties.title || ""}`, `${properties.priority} · ${properties.status}`];
  if (properties.technician) lines.push(`${properties.technician}, stop ${properties.sequence}: ${(properties.arrival || "").slice(11, 16)}`);
  else lines.push(`unassigned: ${properties.reason || ""}`);
  if (properties.sla_risk) lines.push("SLA at risk");
  return lines;
}

function popup(lines) {
  const box = document.createElement("div");
  for (const line of lines) {
    const row = document.createElement("div");
    row.textContent = line;
    box.append(row);
  }
  return box;
}

function draw(collection) {
  if (layer) layer.remove();
  layer = L.geoJSON(collection, {
    style: (feature) => ({ color: feature.properties.colour, weight: 4, opacity: 0.85 }),
    pointToLayer: (feature, latlng) => {
      const p = feature.properties;
      if (p.kind === "warehouse") {
        return L.marker(latlng, { icon: L.divIcon({ className: "warehouse-marker", iconSize: [16, 16] }), title: p.name, keyboard: true });
      }
      return L.circleMarker(latlng, {
        radius: p.priority === "emergency" ? 9 : 7,
        color: p.colour || "#495057",
        weight: 3,
        fillColor: p.technician ? STATUS_COLOURS[p.status] || "#4c6ef5" : "#ced4da",
        fillOpacity: 0.9,
        className: `job-marker status-${p.status}` + (p.sla_risk ? " sla-risk" : ""),
      });
    },
    onEachFeature: (feature, shape) => {
      const p = feature.properties;
      if (p.kind === "job") shape.bindPopup(popup(describe(p)));
      else if (p.kind === "route") shape.bindPopup(popup([`${p.technician} ${p.name}`, `${p.jobs} jobs`]));
      else shape.bindPopup(popup([`${p.code} ${p.name}`, p.address || ""]));
    },
  }).addTo(map);
  if (!fitted && layer.getBounds().isValid()) {
    map.fitBounds(layer.getBounds(), { padding: [20, 20] });
    fitted = true;
  }
  legend(collection);
}

function legend(collection) {
  const list = document.getElementById("legend");
  list.replaceChildren();
  for (const feature of collection.features.filter((f) => f.properties.kind === "route")) {
    const item = document.createElement("li");
    const swatch = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    swatch.setAttribute("width", "24");
    swatch.setAttribute("height", "8");
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    bar.setAttribute("width", "24");
    bar.setAttribute("height", "8");
    bar.setAttribute("fill", feature.properties.colour);
    swatch.append(bar);
    item.append(swatch, ` ${feature.properties.technician} ${feature.properties.name} (${feature.properties.jobs})`);
    list.append(item);
  }
}

async function load() {
  const response = await fetch(root.dataset.api, { headers: { Accept: "application/geo+json" }, credentials: "same-origin" });
  const status = document.getElementById("map-status");
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    status.textContent = (problem && problem.detail) || "The map could not be read.";
    return;
  }
  status.textContent = "";
  draw(await response.json());
}

let reloading = null;
const stream = new EventSource(root.dataset.events);
stream.onopen = () => (document.getElementById("live").textContent = "live");
stream.onerror = () => (document.getElementById("live").textContent = "reconnecting…");
for (const kind of ["job.changed", "job.removed", "route.published"]) {
  stream.addEventListener(kind, () => {
    clearTimeout(reloading);
    reloading = setTimeout(load, 300);
  });
}

load();
