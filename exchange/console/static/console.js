// The console's own script: charts from the JSON specs in the page, the upload's progress
// bar, and the extract's job polling. No inline script anywhere (the CSP forbids it).
"use strict";

function renderCharts() {
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var source = document.getElementById(el.dataset.chart);
    if (!source || !window.Plotly) { return; }
    var spec = JSON.parse(source.textContent);
    window.Plotly.newPlot(el, spec.data, spec.layout, {
      displayModeBar: false, displaylogo: false, responsive: true,
    }).then(function () { el.dataset.rendered = "true"; });
  });
}

function say(id, text, isError) {
  var el = document.getElementById(id);
  if (el) { el.textContent = text; el.classList.toggle("error", !!isError); }
}

function show(id) {
  var el = document.getElementById(id);
  if (el) { el.classList.remove("hidden"); }
}

function errorText(body, status) {
  if (body && body.error) { return body.error.message || body.error.code; }
  return "HTTP " + status;
}

function setUpUpload() {
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = new FormData(form);
    data.delete("csrf");
    var xhr = new XMLHttpRequest();
    var bar = document.getElementById("upload-progress");
    show("upload-status");
    say("upload-text", "uploading…");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((100 * e.loaded) / e.total);
        say("upload-text", bar.value + "% sent");
      }
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      say("upload-text", "sent; the exchange is reading and profiling the file…");
    });
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 201 && body && body.id) {
        say("upload-text", "uploaded: " + body.rows + " rows");
        window.location.assign("/console/datasets/" + encodeURIComponent(body.id));
      } else {
        say("upload-text", "refused: " + errorText(body, xhr.status), true);
      }
    });
    xhr.addEventListener("error", function () { say("upload-text", "the upload failed", true); });
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.send(data);
  });
}

function saveBlob(response) {
  var disposition = response.headers.get("content-disposition") || "";
  var match = /filename="?([^";]+)"?/.exec(disposition);
  return response.blob().then(function (blob) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = match ? match[1] : "extract";
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
}

function waitForJob(job, url) {
  var bar = document.getElementById("extract-progress");
  return fetch("/console/jobs/" + encodeURIComponent(job.id), { credentials: "same-origin" })
    .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
    .then(function (answer) {
      var status = answer[0], body = answer[1];
      if (status !== 200) { throw new Error(errorText(body, status)); }
      bar.value = body.progress || 0;
      say("extract-text", body.state + " · " + (body.rows_done || 0) + " rows");
      if (body.state === "failed") { throw new Error(body.error || "the job failed"); }
      if (body.state === "done") {
        say("extract-text", "ready: downloading");
        window.location.assign(url); // a navigation: the file streams to disk
        return null;
      }
      return new Promise(function (resolve) { setTimeout(resolve, 500); })
        .then(function () { return waitForJob(job, url); });
    });
}

function setUpDownloads() {
  document.querySelectorAll("button.download").forEach(function (button) {
    button.addEventListener("click", function () {
      var url = button.dataset.url;
      show("extract-status");
      say("extract-text", "asking for the extract…");
      fetch(url, { credentials: "same-origin" }).then(function (response) {
        if (response.status === 200) { return saveBlob(response); }
        return response.json().then(function (body) {
          if (response.status === 202) { return waitForJob(body, url); }
          throw new Error(errorText(body, response.status));
        });
      }).catch(function (err) { say("extract-text", "refused: " + err.message, true); });
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  renderCharts();
  setUpUpload();
  setUpDownloads();
});
