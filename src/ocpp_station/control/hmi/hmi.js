// Station HMI: one page over the control API. Live data comes from GET api/events (Server-Sent
// Events: "state" documents and "frame" records); every control is a fetch() to the same endpoints
// a test harness uses. No build step, no dependencies.
"use strict";

(function () {
  const API = new URL("api/", document.baseURI);
  const MAX_ROWS = 1000;
  const STATUS_CLEAR_MS = 4000; // a "…: done" line goes away after this long
  const $ = (id) => document.getElementById(id);

  const els = {
    identity: $("identity"), registration: $("registration"), connection: $("connection"),
    network: $("network"), stationStatus: $("station-status"), queued: $("queued"), live: $("live"),
    localList: $("local-list"),
    alert: $("alert"), status: $("status"), stale: $("stale"), connectors: $("connectors"), tpl: $("connector-tpl"),
    cardForm: $("card-form"), cardInput: $("card-input"), cardConnector: $("card-connector"),
    frames: $("frames"), frameCount: $("frame-count"), payload: $("payload"),
    payloadTitle: $("payload-title"), follow: $("follow"),
  };
  const panels = new Map(); // connectorId -> {root, fields}
  let streamStates = 0; // state documents received from the event stream
  let frameTotal = 0;
  let statusTimer = 0;

  // -- calling the control API ------------------------------------------------------------

  // The error goes next to the control that caused it (on a phone the top of the page may be far
  // away), and is scrolled into view.
  function showError(text, origin) {
    const anchor = origin && origin.closest(".row, form");
    if (anchor) anchor.after(els.alert);
    else els.status.before(els.alert);
    els.alert.textContent = text;
    els.alert.hidden = false;
    els.alert.scrollIntoView({ block: "nearest" });
  }

  function setStatus(text, clearAfter) {
    clearTimeout(statusTimer);
    els.status.textContent = text;
    if (clearAfter) statusTimer = setTimeout(() => { els.status.textContent = ""; }, clearAfter);
  }

  // the API speaks of powerW in W; the page's field is in kW
  const FIELD_NAMES = { powerW: "EV power (kW)" };

  function fieldMessage(field, msg) {
    if (field !== "powerW") return msg;
    return msg.replace(/between (\d+(?:\.\d+)?) and (\d+(?:\.\d+)?)/,
      (_, lo, hi) => "between " + Number(lo) / 1000 + " and " + Number(hi) / 1000)
      .replace(/\bpowerW\b/g, FIELD_NAMES.powerW);
  }

  function clearError() {
    els.alert.hidden = true;
    els.alert.textContent = "";
    els.cardInput.removeAttribute("aria-invalid");
  }

  async function call(method, path, body, what, origin) {
    clearError();
    const seen = streamStates;
    setStatus(what + "…");
    let resp;
    try {
      const init = { method, headers: {} };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      resp = await fetch(new URL(path, API), init);
    } catch (err) {
      setStatus("");
      showError(what + " failed: the control API is unreachable (" + err.message + ")", origin);
      return null;
    }
    let doc = null;
    try { doc = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok) {
      setStatus("");
      const field = doc && typeof doc.field === "string" ? doc.field : null;
      const msg = fieldMessage(field, doc && typeof doc.error === "string" ? doc.error : resp.statusText);
      showError(what + " refused (HTTP " + resp.status + ")" +
        (field ? " — field " + (FIELD_NAMES[field] || field) : "") + ": " + msg, origin);
      if (field === "idTag") els.cardInput.setAttribute("aria-invalid", "true");
      return null;
    }
    setStatus(what + ": done", STATUS_CLEAR_MS);
    // The event stream is the source of truth (its documents come in order, and every action is
    // followed by one); the API's answer is shown only if the stream said nothing since the request,
    // so a late answer never overwrites a newer pushed state.
    if (doc && Array.isArray(doc.connectors) && streamStates === seen) renderState(doc);
    return doc;
  }

  // -- the state document ----------------------------------------------------------------

  function setBadge(el, text, cls) {
    el.textContent = text;
    el.className = "badge " + (cls || "");
  }

  function fmt(n, digits) {
    return typeof n === "number" && isFinite(n) ? n.toFixed(digits) : "–";
  }

  function connectorPanel(cid) {
    let p = panels.get(cid);
    if (p) return p;
    const root = els.tpl.content.firstElementChild.cloneNode(true);
    root.id = "connector-" + cid;
    root.setAttribute("aria-label", "Connector " + cid);
    root.querySelector(".cid").textContent = cid;
    const fields = {};
    root.querySelectorAll("[data-field]").forEach((el) => {
      fields[el.dataset.field] = el;
      el.id = "c" + cid + "-" + el.dataset.field;
    });
    fields.status.setAttribute("data-testid", "connector-" + cid + "-status");
    const power = root.querySelector('[data-input="power"]');
    const code = root.querySelector('[data-input="errorCode"]');
    power.setAttribute("aria-label", "EV power in kW, connector " + cid);
    code.setAttribute("aria-label", "Fault error code, connector " + cid);
    root.querySelector('[data-group="plug"]').setAttribute("aria-label", "Cable, connector " + cid);
    root.querySelector('[data-group="ev"]').setAttribute("aria-label", "EV, connector " + cid);
    root.querySelector('[data-group="fault"]').setAttribute("aria-label", "Fault, connector " + cid);
    const labels = {
      "plug-in": () => "Plug in connector " + cid,
      "plug-out": (b) => ({ ev: "Plug out EV side, connector ", station: "Plug out station side, connector ",
                            both: "Plug out both sides, connector " })[b.dataset.side] + cid,
      "ev": (b) => "EV " + b.dataset.state + ", connector " + cid,
      "fault": () => "Raise fault, connector " + cid,
      "clear-fault": () => "Clear fault, connector " + cid,
    };
    root.querySelectorAll("button[data-act]").forEach((b) => {
      b.setAttribute("aria-label", labels[b.dataset.act](b));
      b.addEventListener("click", () => act(cid, b, power, code));
    });
    // keep the panels in connector order
    const after = [...panels.keys()].filter((k) => k > cid).sort((a, b) => a - b)[0];
    els.connectors.insertBefore(root, after === undefined ? null : panels.get(after).root);
    p = { root, fields, chart: newChart(cid, root.querySelector(".chart-svg")) };
    panels.set(cid, p);
    const opt = document.createElement("option");
    opt.value = String(cid);
    opt.textContent = "connector " + cid;
    els.cardConnector.appendChild(opt);
    return p;
  }

  function act(cid, b, power, code) {
    const base = "connectors/" + cid + "/";
    switch (b.dataset.act) {
      case "plug-in":
        return call("POST", base + "plug-in", undefined, "Plug in connector " + cid, b);
      case "plug-out":
        return call("POST", base + "plug-out", { side: b.dataset.side },
          "Plug out (" + b.dataset.side + ") connector " + cid, b);
      case "ev": {
        const body = { state: b.dataset.state };
        if (power.value.trim() !== "") {
          const kw = Number(power.value);
          // sent as typed: the API decides whether it is acceptable
          body.powerW = isFinite(kw) ? Math.round(kw * 1000) : power.value;
        }
        return call("POST", base + "ev", body, "EV " + b.dataset.state + " on connector " + cid, b);
      }
      case "fault":
        return call("POST", base + "fault", { errorCode: code.value }, "Fault " + code.value + " on connector " + cid, b);
      case "clear-fault":
        return call("DELETE", base + "fault", undefined, "Clear fault on connector " + cid, b);
    }
  }

  function renderState(doc, fromStream) {
    els.identity.textContent = doc.identity || "Station";
    document.title = (doc.identity || "Station") + " · HMI";
    const reg = doc.registration || "–";
    setBadge(els.registration, reg, reg === "Accepted" ? "ok" : reg === "Rejected" ? "bad" : "warn");
    setBadge(els.connection, doc.connected ? "connected" : "disconnected", doc.connected ? "ok" : "bad");
    setBadge(els.network, doc.network || "–", doc.network === "up" ? "ok" : "bad");
    setBadge(els.queued, String(doc.queuedTransactionMessages ?? "–"), doc.queuedTransactionMessages ? "warn" : "");
    const ll = doc.localList;
    setBadge(els.localList, !ll ? "none" : !ll.enabled ? "disabled"
      : "v" + ll.listVersion + " · " + ll.size + (ll.size === 1 ? " entry" : " entries"), "");
    for (const c of doc.connectors || []) {
      if (c.connectorId === 0) {
        setBadge(els.stationStatus, c.status, statusClass(c.status));
        continue;
      }
      const p = connectorPanel(c.connectorId);
      const f = p.fields;
      setBadge(f.status, c.status, statusClass(c.status));
      f.status.className += " cstatus";
      f.errorCode.textContent = c.errorCode && c.errorCode !== "NoError"
        ? c.errorCode + (c.info ? " (" + c.info + ")" : "") : "NoError";
      f.errorCode.classList.toggle("bad", !!c.errorCode && c.errorCode !== "NoError");
      f.transactionId.textContent = c.transactionId ?? "–";
      f.idTag.textContent = c.idTag ?? "–";
      f.energy.textContent = fmt(typeof c.energyWh === "number" ? c.energyWh / 1000 : null, 3);
      f.sessionEnergy.textContent = fmt(typeof c.sessionEnergyWh === "number" ? c.sessionEnergyWh / 1000 : null, 3);
      f.power.textContent = fmt(typeof c.powerW === "number" ? c.powerW / 1000 : null, 2);
      // limitW: the Smart Charging limit in effect (null or absent: none applies)
      const limited = typeof c.limitW === "number" && isFinite(c.limitW);
      f.limit.textContent = limited ? fmt(c.limitW / 1000, 2) + " kW" : "none";
      f.limit.classList.toggle("limited", limited);
      if (fromStream) {
        const now = Date.now();
        addSample(p.chart, c.powerW, limited ? c.limitW : null, now);
        drawChart(p.chart, now);
      }
      const hw = c.hardware || {};
      f.cable.textContent = "EV " + (hw.evPlugged ? "plugged" : "unplugged") +
        " · station " + (hw.cableAtStation ? "plugged" : "unplugged");
      f.relay.textContent = (hw.relayClosed ? "closed" : "open") + " / " + (hw.locked ? "locked" : "unlocked");
      // a fixed cable cannot be unplugged at the station: no button that would do nothing
      p.root.querySelector('[data-act="plug-out"][data-side="station"]').hidden = doc.fixedCable === true;
      const r = c.reservation;
      f.reservation.textContent = r ? r.idTag + (r.parentIdTag ? " (parent " + r.parentIdTag + ")" : "") +
        " until " + timeText(Date.parse(r.expiryDate) / 1000) + " · #" + r.reservationId : "–";
    }
  }

  // The event stream is down: what the page shows is out of date, and the controls are off until
  // the stream is back (its first state document ends this).
  function setStale(stale) {
    document.body.classList.toggle("stale", stale);
    els.stale.hidden = !stale;
    document.querySelectorAll("[data-controls] button, [data-controls] input, [data-controls] select")
      .forEach((el) => { el.disabled = stale; });
  }

  function statusClass(s) {
    if (s === "Available") return "ok";
    if (s === "Charging") return "charging";
    if (s === "Faulted" || s === "Unavailable") return "bad";
    return "warn";
  }


  // -- the power chart: power and charging limit per connector over the last 10 minutes -----------
  //
  // Each state document adds a sample (power, limit) per connector; a 1 s tick repeats the last one while
  // the stream is live, so the lines run on when nothing changes. Inline SVG, redrawn from the samples.

  const SVG_NS = "http://www.w3.org/2000/svg";
  const WINDOW_MS = 10 * 60 * 1000;
  const CHART = { w: 320, h: 150, left: 34, right: 8, top: 8, bottom: 20 };
  const SAMPLE_MS = 1000; // a tick adds a sample when the last is older than this

  function svgEl(name, attrs, parent) {
    const el = document.createElementNS(SVG_NS, name);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(el);
    return el;
  }

  // round tick values (steps of 1, 2 or 5 times a power of ten) from 0 to at least hi, at most 6 intervals
  function niceTicks(hi) {
    if (!(hi > 0)) hi = 1;
    const mag = Math.pow(10, Math.floor(Math.log10(hi / 5)));
    let step = mag;
    for (const m of [1, 2, 5, 10]) {
      step = m * mag;
      if (Math.ceil(hi / step - 1e-9) <= 6) break;
    }
    const ticks = [];
    for (let v = 0; v < hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
    if (ticks[ticks.length - 1] < hi) ticks.push(ticks.length * step);
    return ticks;
  }

  function kwText(v, ticks) {
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
    return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  }

  function newChart(cid, svg) {
    svg.id = "c" + cid + "-chart";
    svg.setAttribute("aria-label", "Power and charging limit of connector " + cid + " over the last 10 minutes");
    const c = CHART;
    const grid = svgEl("g", { class: "grid" }, svg);
    const box = svgEl("rect", { x: c.left, y: c.top, height: c.h - c.top - c.bottom, class: "frame-box" }, svg);
    const limit = svgEl("path", { id: "c" + cid + "-limit-line", class: "limit-line", d: "" }, svg);
    const power = svgEl("path", { id: "c" + cid + "-power-line", class: "power-line", d: "" }, svg);
    const unit = svgEl("text", { x: 2, y: c.top + 4, class: "axis-unit" }, svg);
    unit.textContent = "kW";
    const xticks = [["-10 min", 0], ["-5 min", 0.5], ["now", 1]].map(([label, f]) => {
      const t = svgEl("text", { y: c.h - 5, class: "xtick",
                                "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" }, svg);
      t.textContent = label;
      return [t, f];
    });
    return { svg, grid, box, xticks, power, limit, samples: [], ticksKey: "", w: 0 };
  }

  // the chart is drawn in CSS pixels (1 unit = 1 px): its width follows the card's, its text stays legible
  function fitChart(chart) {
    const w = Math.round(Math.min(720, Math.max(240, chart.svg.clientWidth || CHART.w)));
    if (w === chart.w) return;
    chart.w = w;
    chart.ticksKey = "";
    chart.svg.setAttribute("viewBox", "0 0 " + w + " " + CHART.h);
    const pw = w - CHART.left - CHART.right;
    chart.box.setAttribute("width", pw);
    for (const [t, f] of chart.xticks) t.setAttribute("x", CHART.left + f * pw);
  }

  // a state document's values for one connector
  function addSample(chart, powerW, limitW, now) {
    const s = chart.samples;
    const sample = { t: now, p: typeof powerW === "number" ? powerW : null,
                     l: typeof limitW === "number" && isFinite(limitW) ? limitW : null };
    // several documents within a short moment: the last one counts
    if (s.length && now - s[s.length - 1].t < 250) s[s.length - 1] = sample;
    else s.push(sample);
    while (s.length > 2 && s[1].t < now - WINDOW_MS) s.shift();
  }

  function drawChart(chart, now) {
    fitChart(chart);
    const c = CHART;
    const pw = chart.w - c.left - c.right, ph = c.h - c.top - c.bottom;
    const t0 = now - WINDOW_MS;
    let hi = 0;
    for (const x of chart.samples) {
      if (x.p !== null) hi = Math.max(hi, x.p / 1000);
      if (x.l !== null) hi = Math.max(hi, x.l / 1000);
    }
    const ticks = niceTicks(hi * 1.05);
    const top = ticks[ticks.length - 1];
    const px = (t) => (c.left + Math.max(0, (t - t0)) / WINDOW_MS * pw).toFixed(1);
    const py = (w) => (c.top + ph - (w / 1000) / top * ph).toFixed(1);
    const key = ticks.join(",");
    if (key !== chart.ticksKey) { // the y axis: grid lines and labels in kW
      chart.ticksKey = key;
      chart.grid.textContent = "";
      for (const v of ticks) {
        const y = (c.top + ph - v / top * ph).toFixed(1);
        svgEl("line", { x1: c.left, x2: c.left + pw, y1: y, y2: y }, chart.grid);
        const label = svgEl("text", { x: c.left - 4, y: (Number(y) + 3.5).toFixed(1), class: "ytick",
                                      "text-anchor": "end", "data-kw": String(v) }, chart.grid);
        label.textContent = kwText(v, ticks);
      }
    }
    // power: a line through the samples; limit: a step line (each value holds until the next sample)
    let dp = "", dl = "", penP = false, penL = false;
    const s = chart.samples;
    for (let i = 0; i < s.length; i++) {
      const x = s[i];
      if (x.t < t0 && i + 1 < s.length && s[i + 1].t <= t0) continue;
      const X = px(x.t);
      if (x.p === null) penP = false;
      else { dp += (penP ? "L" : "M") + X + "," + py(x.p); penP = true; }
      if (x.l === null) penL = false;
      else {
        const Y = py(x.l);
        dl += penL ? "H" + X + "V" + Y : "M" + X + "," + Y;
        penL = true;
      }
    }
    if (penL && s.length) dl += "H" + px(Math.max(s[s.length - 1].t, t0));
    chart.power.setAttribute("d", dp);
    chart.limit.setAttribute("d", dl);
  }

  function tickCharts() {
    const now = Date.now();
    for (const p of panels.values()) {
      const s = p.chart.samples;
      if (!stale && streamStates > 0 && s.length && now - s[s.length - 1].t >= SAMPLE_MS) {
        const last = s[s.length - 1];
        addSample(p.chart, last.p, last.l, now);
      }
      drawChart(p.chart, now);
    }
  }

  // -- the frame log ---------------------------------------------------------------------

  let pending = [];
  let scheduled = false;

  function timeText(t) {
    const d = new Date(t * 1000);
    const p = (n, w) => String(n).padStart(w, "0");
    return p(d.getHours(), 2) + ":" + p(d.getMinutes(), 2) + ":" + p(d.getSeconds(), 2) + "." + p(d.getMilliseconds(), 3);
  }

  function addFrame(rec) {
    pending.push(rec);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(flushFrames);
    }
  }

  function flushFrames() {
    scheduled = false;
    const atBottom = els.frames.scrollTop + els.frames.clientHeight >= els.frames.scrollHeight - 4;
    const frag = document.createDocumentFragment();
    for (const rec of pending) frag.appendChild(frameRow(rec));
    frameTotal += pending.length;
    pending = [];
    els.frames.appendChild(frag);
    while (els.frames.childElementCount > MAX_ROWS) els.frames.firstElementChild.remove();
    els.frameCount.textContent = "(" + frameTotal + ")";
    if (els.follow.checked || atBottom) els.frames.scrollTop = els.frames.scrollHeight;
  }

  function frameRow(rec) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "frame " + rec.direction + " " + rec.kind.toLowerCase();
    b.setAttribute("aria-pressed", "false");
    const dir = rec.direction === "out" ? "→ CSMS" : "← CSMS";
    const label = (rec.action || "?") + (rec.kind === "CALLRESULT" ? ".conf" : rec.kind === "CALLERROR" ? " error" : "");
    b.innerHTML = '<span class="t"></span><span class="d"></span><span class="a"></span>';
    b.children[0].textContent = timeText(rec.time);
    b.children[1].textContent = dir;
    b.children[2].textContent = label;
    b.setAttribute("aria-label", timeText(rec.time) + " " + (rec.direction === "out" ? "out to" : "in from") +
      " CSMS " + label);
    b.addEventListener("click", () => showPayload(rec, b));
    li.appendChild(b);
    return li;
  }

  function showPayload(rec, row) {
    els.frames.querySelectorAll('[aria-pressed="true"]').forEach((x) => x.setAttribute("aria-pressed", "false"));
    row.setAttribute("aria-pressed", "true");
    let text = rec.frame;
    try {
      const msg = JSON.parse(rec.frame);
      const payload = rec.kind === "CALL" ? msg[3] : rec.kind === "CALLRESULT" ? msg[2]
        : rec.kind === "CALLERROR" ? { errorCode: msg[2], errorDescription: msg[3], errorDetails: msg[4] } : msg;
      text = JSON.stringify(payload, null, 2);
    } catch (_) { /* shown as sent */ }
    els.payloadTitle.textContent = (rec.action || "?") + " " + rec.kind + " · " +
      (rec.direction === "out" ? "station → CSMS" : "CSMS → station") + " · " + timeText(rec.time) +
      (rec.uniqueId ? " · id " + rec.uniqueId : "");
    els.payload.textContent = text;
  }

  // -- live updates ----------------------------------------------------------------------

  let source = null;
  let stale = false; // the stream dropped and no state document has come since

  function connect() {
    source = new EventSource(new URL("events", API));
    source.addEventListener("open", () => setBadge(els.live, "live", "ok"));
    source.addEventListener("state", (ev) => {
      streamStates++;
      renderState(JSON.parse(ev.data), true);
      if (stale) {
        stale = false;
        setStale(false);
      }
    });
    source.addEventListener("frame", (ev) => addFrame(JSON.parse(ev.data)));
    source.addEventListener("error", () => {
      setBadge(els.live, "reconnecting…", "bad");
      if (streamStates > 0 && !stale) {
        stale = true;
        setStale(true);
      }
      if (source.readyState === EventSource.CLOSED) {
        // the browser gave up (e.g. an HTTP error): start over once, a little later
        source = null;
        setTimeout(connect, 2000);
      }
    });
  }

  // -- the controls that are not per connector ----------------------------------------------

  function present(tag, origin) {
    const body = { idTag: tag };
    if (els.cardConnector.value) body.connectorId = Number(els.cardConnector.value);
    return call("POST", "id-tag", body, "Present card " + JSON.stringify(tag), origin);
  }

  els.cardForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    present(els.cardInput.value, els.cardForm);
  });
  document.querySelectorAll("button.card").forEach((b) =>
    b.addEventListener("click", () => present(b.dataset.tag, b)));
  $("net-down").addEventListener("click", (ev) =>
    call("POST", "network/disconnect", undefined, "Network down", ev.currentTarget));
  $("net-up").addEventListener("click", (ev) =>
    call("POST", "network/connect", undefined, "Network up", ev.currentTarget));
  $("power-cut").addEventListener("click", (ev) => {
    const backup = $("backup-power").checked;
    call("POST", "power-cut", { backupPower: backup }, "Power cut" + (backup ? " (backup power)" : ""), ev.currentTarget);
  });
  $("log-clear").addEventListener("click", () => {
    els.frames.textContent = "";
    frameTotal = 0;
    els.frameCount.textContent = "";
  });

  connect();
  setInterval(tickCharts, SAMPLE_MS);
})();
