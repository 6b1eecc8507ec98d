// SLA countdowns on the request desk and a request's page: every element with a data-due
// instant (ISO 8601) says how long is left, or how long it is overdue, in the words the
// server used (dispatch.desk.Clock.countdown), and is brought up to date each minute.
"use strict";

function span(minutes) {
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${String(rest).padStart(2, "0")} min`;
  return `${rest} min`;
}

function refresh() {
  const now = Date.now();
  for (const element of document.querySelectorAll("[data-due]")) {
    const due = Date.parse(element.dataset.due);
    if (Number.isNaN(due)) continue;
    const overdue = due <= now;
    const text = span(Math.floor(Math.abs(due - now) / 60000));
    element.textContent = overdue ? `overdue by ${text}` : `${text} left`;
    element.classList.toggle("overdue", overdue);
  }
}

setInterval(refresh, 60000);
