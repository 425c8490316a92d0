// The duty board's live parts: every promise counts down each second against the server's
// clock (the page says what time it is there), and the rows are replaced when the server
// pushes them (server-sent events). No framework, no build step.
(function () {
  "use strict";
  // a button that copies a field (the reporter's tracking link on a ticket page)
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      if (!field) return;
      field.select();
      if (navigator.clipboard) navigator.clipboard.writeText(field.value);
      else document.execCommand("copy");
    });
  });
  var table = document.querySelector("[data-now]");
  if (!table) return;
  var offset = Number(table.dataset.now) - Date.now(); // server time minus this browser's

  function two(n) { return n < 10 ? "0" + n : String(n); }
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), d = Math.floor(s / 86400);
    var h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + "d " + two(h) + "h";
    if (h) return h + ":" + two(m) + ":" + two(s % 60);
    return m + ":" + two(s % 60);
  }
  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll(".clock").forEach(function (el) {
      var out = el.querySelector(".left");
      if (!out) return;
      var due = el.dataset.due ? Number(el.dataset.due) : null;
      var left = due !== null && el.classList.contains("running") ? due - now : Number(el.dataset.remaining);
      out.textContent = (left < 0 ? "+" : "") + span(left);
      if (left <= 0) el.classList.add("breached");
      else if (el.dataset.warn && now >= Number(el.dataset.warn)) el.classList.add("warned");
      var row = el.closest("tr[data-id]");
      if (row && el.classList.contains("breached")) row.classList.add("breached");
    });
  }
  tick();
  setInterval(tick, 1000);

  var rows = document.getElementById("rows"), live = document.getElementById("live");
  if (!rows || !window.EventSource) return;
  var source = new EventSource(table.dataset.events);
  source.addEventListener("open", function () { live.textContent = live.dataset.live; live.className = "live on"; });
  source.addEventListener("error", function () { live.textContent = live.dataset.offline; live.className = "live off"; });
  source.addEventListener("now", function (e) { offset = Number(e.data) - Date.now(); });
  source.addEventListener("rows", function (e) { rows.innerHTML = e.data; tick(); });
})();
