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
  // Alerts, opt-in (a duty room that wants silence keeps it): a new ticket or a broken promise
  // rings (Web Audio, no file), flashes the tab title until the page is looked at, and shows a
  // desktop notification where the browser allows. The choice is kept in this browser.
  var button = document.getElementById("alerts"), title = document.title, flashing = null;
  var audio = null, seen = null, broken = null;
  var on = function () { return localStorage.getItem("ff-alerts") === "on"; };
  function show() {
    if (!button) return;
    button.hidden = false;
    button.setAttribute("aria-pressed", on() ? "true" : "false");
    button.textContent = on() ? button.dataset.on : button.dataset.off;
  }
  function ring() {
    if (!audio) return;
    [0, 0.25].forEach(function (at) {
      var o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; g.gain.value = 0.2;
      o.connect(g); g.connect(audio.destination);
      o.start(audio.currentTime + at); o.stop(audio.currentTime + at + 0.15);
    });
  }
  function flash(text) {
    if (flashing) clearInterval(flashing);
    var odd = false;
    flashing = setInterval(function () {
      odd = !odd;
      document.title = odd ? "【" + text + "】" + title : title;
    }, 1000);
  }
  function calm() {
    if (flashing && !document.hidden) { clearInterval(flashing); flashing = null; document.title = title; }
  }
  document.addEventListener("visibilitychange", calm);
  window.addEventListener("focus", calm);
  function alert(kind, rowsFound) {
    if (!on() || !button) return;
    var text = button.dataset[kind];
    var names = rowsFound.map(function (r) { var t = r.querySelector(".title"); return r.dataset.id + " " + (t ? t.textContent : ""); });
    ring();
    flash(text);
    if (window.Notification && Notification.permission === "granted") {
      new Notification(text, { body: names.join("\n"), tag: "faultflow-" + kind });
    }
  }
  function check() {
    var all = Array.prototype.slice.call(document.querySelectorAll("#rows tr[data-id]"));
    var ids = {}, bad = {};
    all.forEach(function (r) { ids[r.dataset.id] = r; if (r.classList.contains("breached")) bad[r.dataset.id] = r; });
    if (seen !== null) {
      var fresh = all.filter(function (r) { return !seen[r.dataset.id]; });
      var newly = all.filter(function (r) { return bad[r.dataset.id] && !broken[r.dataset.id]; });
      if (fresh.length) alert("new", fresh);
      else if (newly.length) alert("breach", newly);
    }
    seen = ids; broken = bad;
  }
  var Ctx = window.AudioContext || window.webkitAudioContext;
  // sound needs a click on the page first (browsers' rule): after a reload, any click will do
  document.addEventListener("click", function () { if (on() && Ctx && !audio) audio = new Ctx(); });
  if (button) {
    button.addEventListener("click", function () {
      localStorage.setItem("ff-alerts", on() ? "off" : "on");
      if (on()) {
        if (Ctx && !audio) audio = new Ctx();
        if (window.Notification && Notification.permission === "default") Notification.requestPermission();
      }
      show();
    });
    show();
  }

  tick();
  check();
  setInterval(function () { tick(); check(); }, 1000);

  var rows = document.getElementById("rows"), live = document.getElementById("live");
  if (!rows || !window.EventSource) return;
  var source = new EventSource(table.dataset.events);
  source.addEventListener("open", function () { live.textContent = live.dataset.live; live.className = "live on"; });
  source.addEventListener("error", function () { live.textContent = live.dataset.offline; live.className = "live off"; });
  source.addEventListener("now", function (e) { offset = Number(e.data) - Date.now(); });
  source.addEventListener("rows", function (e) { rows.innerHTML = e.data; tick(); check(); });
  var down = document.getElementById("down");
  source.addEventListener("down", function (e) { if (down) down.innerHTML = e.data; });
  var rounds = document.getElementById("rounds");
  source.addEventListener("rounds", function (e) { if (rounds) rounds.innerHTML = e.data; });
})();
