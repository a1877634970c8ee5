// The page at /: send an image to POST /v1/detect, draw its boxes over it, filter by score.
// Boxes are SVG <rect>s in ORIGINAL image pixels (the SVG's viewBox is the image's size), each
// carrying data-class, data-score and data-box="x1,y1,x2,y2" as the API returned them.
"use strict";

// Every detection is fetched once (score_threshold=0); the slider only hides rows.
const FETCH_THRESHOLD = 0;
const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
                 "#9a6324", "#800000", "#469990"];
const $ = (id) => document.getElementById(id);
let current = null;   // {width, height, detections} of the image shown

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function draw() {
  const svg = $("boxes");
  svg.replaceChildren();
  if (!current) return;
  const minimum = parseFloat($("score").value);
  $("score-value").textContent = minimum.toFixed(2);
  svg.setAttribute("viewBox", `0 0 ${current.width} ${current.height}`);
  const ns = "http://www.w3.org/2000/svg";
  let shown = 0;
  for (const det of current.detections) {
    if (det.score < minimum) continue;
    const [x1, y1, x2, y2] = det.box;
    const colour = COLOURS[det.class_id % COLOURS.length];
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", x1);
    rect.setAttribute("y", y1);
    rect.setAttribute("width", Math.max(0, x2 - x1));
    rect.setAttribute("height", Math.max(0, y2 - y1));
    rect.setAttribute("stroke", colour);
    rect.dataset.class = det.class;
    rect.dataset.score = String(det.score);
    rect.dataset.box = det.box.join(",");
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x1 + 2);
    label.setAttribute("y", Math.max(12, y1 - 3));
    label.setAttribute("fill", colour);
    label.textContent = `${det.class} ${det.score.toFixed(2)}`;
    svg.append(rect, label);
    shown += 1;
  }
  setStatus(`${shown} of ${current.detections.length} detections shown`, false);
  document.body.dataset.state = "drawn";
}

async function detect(file) {
  document.body.dataset.state = "busy";
  setStatus(`detecting in ${file.name}...`, false);
  $("image").src = URL.createObjectURL(file);
  $("stage").classList.remove("hidden");
  current = null;
  draw();
  try {
    const response = await fetch(`/v1/detect?score_threshold=${FETCH_THRESHOLD}`, {
      method: "POST", body: file,
      headers: {"Content-Type": file.type || "application/octet-stream"}});
    const answer = await response.json();
    if (!response.ok) throw new Error(`${response.status}: ${answer.detail}`);
    current = answer;
    draw();
  } catch (err) {
    setStatus(String(err.message || err), true);
    document.body.dataset.state = "error";
  }
}

async function describeModel() {
  try {
    const info = await (await fetch("/v1/model")).json();
    $("model").textContent = `${info.name}: ${info.classes.length} classes ` +
      `(${info.classes.join(", ")}), input ${info.input.data_shape.join("x")}, ` +
      `${info.runtime} ${info.precision}`;
    $("score").value = info.score_threshold;
    draw();
  } catch (err) {
    $("model").textContent = `model information unavailable: ${err}`;
  }
}

$("file").addEventListener("change", (e) => { if (e.target.files[0]) detect(e.target.files[0]); });
$("score").addEventListener("input", draw);
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) detect(e.dataTransfer.files[0]);
});
describeModel();
