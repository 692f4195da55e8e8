// Station HMI, firmware and diagnostics panel: the "firmware" and "diagnostics" objects of the state
// document (GET api/events, "state" events) shown as the update's and the upload's progress.
"use strict";

(function () {
  const API = new URL("api/", document.baseURI);
  const $ = (id) => document.getElementById(id);
  const panel = $("firmware-panel");
  if (!panel) return;

  const CLASSES = {
    Idle: "", Downloading: "charging", Downloaded: "charging", Verifying: "charging", InstallScheduled: "charging",
    Installing: "warn", Installed: "ok",
    DownloadFailed: "bad", InstallationFailed: "bad", Uploading: "charging", Uploaded: "ok", UploadFailed: "bad",
  };

  function badge(el, text) {
    el.textContent = text || "–";
    el.className = "badge " + (CLASSES[text] || "");
  }

  function firmwareDetail(fw) {
    if (!fw || !fw.job) return "none under way";
    const parts = [fw.state, "attempt " + fw.attempt + " of " + fw.attempts];
    if (fw.downloadedBytes !== undefined) {
      const mib = (n) => (n / 1048576).toFixed(1);
      parts.push(mib(fw.downloadedBytes) + (fw.totalBytes ? " of " + mib(fw.totalBytes) : "") + " MiB");
    }
    if (fw.signed) parts.push("signed, requestId " + fw.requestId + (fw.signedStatus ? ": " + fw.signedStatus : ""));
    if (fw.nextAttemptIn !== undefined) parts.push("next in " + Math.round(fw.nextAttemptIn) + " s");
    if (fw.waitingFor) parts.push("waiting for connector " + fw.waitingFor.join(", "));
    return parts.join(" · ");
  }

  function diagnosticsDetail(d) {
    if (!d) return "–";
    if (!d.job) return d.lastResult ? "last upload: " + d.lastResult : "none under way";
    const parts = [d.fileName, "attempt " + d.attempt + " of " + d.attempts];
    if (d.nextAttemptIn !== undefined) parts.push("next in " + Math.round(d.nextAttemptIn) + " s");
    return parts.join(" · ");
  }

  function render(doc) {
    const fw = doc.firmware, diag = doc.diagnostics;
    panel.hidden = !fw && !diag; // a station without FirmwareManagement has neither
    if (fw) {
      $("fw-version").textContent = fw.version || "–";
      badge($("fw-status"), fw.state || fw.status);
      $("fw-detail").textContent = firmwareDetail(fw);
    }
    if (diag) {
      badge($("diag-status"), diag.job ? diag.status : (diag.lastResult || diag.status));
      $("diag-detail").textContent = diagnosticsDetail(diag);
    }
  }

  function connect() {
    const source = new EventSource(new URL("events", API));
    source.addEventListener("state", (ev) => {
      try { render(JSON.parse(ev.data)); } catch (e) { /* a partial document: the next one fixes it */ }
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    });
  }
  connect();
})();
