/* journeymap web: small progressive enhancements; every page works without them. */
(function () {
  "use strict";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
  function num(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en"); }

  /* Journey map: hover a touchpoint or stage for its numbers, click for its detail. */
  var island = $("#snapshot-data");
  if (island) {
    var snap = JSON.parse(island.textContent);
    var tips = {};
    snap.touchpoints.forEach(function (t) { tips["tp:" + t.id] = t; });
    snap.stages.forEach(function (s) { tips["st:" + s.id] = s; });
    var tip = $("#tooltip");
    function metricLines(item) {
      var m = item.metrics || {};
      var rows = [["Customers", num(m.customers && m.customers.value)],
                  ["Reach", pct(m.reach && m.reach.value)]];
      if (m.conversion) rows.push(["Conversion", pct(m.conversion.value)]);
      if (m.exit_rate) rows.push(["Exit rate", pct(m.exit_rate.value)]);
      Object.keys(item.scores || {}).forEach(function (k) {
        rows.push([k.toUpperCase(), num(item.scores[k].value) + " (n " + item.scores[k].n + ")"]);
      });
      return rows;
    }
    function show(evt, key) {
      var item = tips[key];
      if (!item) return;
      tip.textContent = "";
      var h = document.createElement("strong");
      h.textContent = item.name;
      tip.appendChild(h);
      metricLines(item).forEach(function (r) {
        var d = document.createElement("div");
        d.className = "tip-row";
        d.textContent = r[0] + ": " + r[1];
        tip.appendChild(d);
      });
      tip.hidden = false;
      tip.style.left = (evt.pageX + 14) + "px";
      tip.style.top = (evt.pageY + 14) + "px";
    }
    $all(".touchpoint-card").forEach(function (g) {
      var id = g.getAttribute("data-touchpoint");
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "link");
      g.addEventListener("mousemove", function (e) { show(e, "tp:" + id); });
      g.addEventListener("mouseleave", function () { tip.hidden = true; });
      g.addEventListener("click", function () { location.href = "/touchpoints/" + encodeURIComponent(id); });
      g.addEventListener("keydown", function (e) { if (e.key === "Enter") location.href = "/touchpoints/" + encodeURIComponent(id); });
    });
    $all(".stage-header").forEach(function (g) {
      var id = g.getAttribute("data-stage");
      g.addEventListener("mousemove", function (e) { show(e, "st:" + id); });
      g.addEventListener("mouseleave", function () { tip.hidden = true; });
      g.addEventListener("click", function () { location.href = "/edit/stages/" + encodeURIComponent(id); });
    });
  }

  /* Selects that apply at once (persona switcher). */
  $all("select.autosubmit").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });

  /* Funnel bars. */
  $all(".bar[data-width]").forEach(function (b) { b.style.width = b.getAttribute("data-width") + "%"; });

  /* A page waiting for a long computation polls, then reloads. */
  var pending = $(".pending[data-job]");
  if (pending) {
    var job = pending.getAttribute("data-job");
    var poll = function () {
      fetch("/api/jobs/" + encodeURIComponent(job), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) { if (s.status === "done" || s.status === "failed") location.reload(); else setTimeout(poll, 700); })
        .catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 500);
  }

  /* Live preview of the events a touchpoint match rule selects. */
  var rule = $("textarea.match-rule");
  var preview = $(".match-preview .preview-body");
  if (rule && preview) {
    var timer = null;
    var seq = 0;
    var run = function () {
      var mine = ++seq;
      var text = rule.value.trim();
      if (!text) { preview.textContent = "No rule."; return; }
      fetch("/api/match-preview?rule=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
        .then(function (res) {
          if (mine !== seq) return; /* a newer edit's answer is coming */
          preview.textContent = "";
          if (!res[0]) { preview.textContent = "Rule not valid: " + JSON.stringify(res[1].detail); return; }
          var p = document.createElement("p");
          p.className = "matched";
          p.textContent = res[1].matched.toLocaleString("en") + " events match";
          preview.appendChild(p);
          var ul = document.createElement("ul");
          res[1].sample.forEach(function (e) {
            var li = document.createElement("li");
            li.textContent = e.ts.slice(0, 19) + " " + e.event + " (" + e.channel + ") " + e.customer_id;
            ul.appendChild(li);
          });
          preview.appendChild(ul);
        })
        .catch(function () { preview.textContent = "Preview unavailable."; });
    };
    rule.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 300); });
    run();
  }
})();
