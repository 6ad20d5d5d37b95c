// The demo page: one POST /tag per click, rendered with text nodes only (never as
// HTML), so any input shows literally.
"use strict";

const CONLL_TYPES = ["PER", "LOC", "ORG", "MISC"];
const $ = (id) => document.getElementById(id);
let modelInfo = []; // GET /models

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function detailOf(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return `HTTP ${status}`;
}

function describeError(status, body, retryAfter) {
  const detail = detailOf(body, status);
  const retry = retryAfter ? ` Retry in ${retryAfter} s.` : "";
  if (status === 413) return `The text is too large for the service (413): ${detail}`;
  if (status === 422) return `The service refused the request (422): ${detail}`;
  if (status === 503) return `The service is not ready or is overloaded (503): ${detail}.${retry}`;
  return `The service answered ${status}: ${detail}`;
}

async function loadModels() {
  const status = $("models-status");
  let response;
  try {
    response = await fetch("/models");
  } catch (error) {
    status.textContent = `Cannot reach the service (${error.message}); retrying…`;
    setTimeout(loadModels, 2000);
    return;
  }
  if (response.status === 503) {
    status.textContent = "The service is loading its models; retrying…";
    setTimeout(loadModels, 1000);
    return;
  }
  if (!response.ok) {
    status.textContent = `GET /models answered ${response.status}.`;
    return;
  }
  modelInfo = await response.json();
  status.remove();
  for (const model of modelInfo) {
    const label = element("label");
    const box = element("input", { type: "checkbox", name: "model", value: model.name });
    box.checked = true;
    label.append(box, ` ${model.name} (${model.task})`);
    $("models").append(label);
  }
}

function selectedModels() {
  return [...document.querySelectorAll('input[name="model"]:checked')].map((box) => box.value);
}

function typeClass(label) {
  return CONLL_TYPES.includes(label) ? label : "OTHER";
}

function renderLegend(entities) {
  const legend = $("legend");
  legend.replaceChildren();
  const types = [...CONLL_TYPES, ...new Set(entities.map((e) => e.label).filter((l) => !CONLL_TYPES.includes(l)))];
  for (const type of types) legend.append(element("li", { class: typeClass(type), "data-type": type }, type));
}

function tokenNode(token, posModel) {
  const node = element("span", { class: "tok", "data-start": token.start, "data-end": token.end });
  node.append(element("span", { class: "form" }, token.text));
  if (posModel && token.labels[posModel]) {
    const pos = token.labels[posModel];
    node.append(element("span", { class: "pos", title: `${pos.label} ${pos.score}` }, pos.label));
    node.setAttribute("data-pos", pos.label);
  }
  return node;
}

// The text with its entities marked: the gaps between tokens are copied from the text
// itself, so spacing and line breaks stay as typed.
function renderText(text, doc, nerModel, posModel) {
  const out = $("rendered");
  out.replaceChildren();
  const entities = doc.entities.filter((e) => e.model === nerModel).sort((a, b) => a.start - b.start);
  let position = 0;
  let next = 0; // the next entity to open
  let open = null; // [mark, entity] while inside one
  for (const sentence of doc.sentences) {
    for (const token of sentence) {
      if (open && token.start >= open[1].end) open = null;
      const parent = () => (open ? open[0] : out);
      if (token.start > position) parent().append(document.createTextNode(text.slice(position, token.start)));
      if (!open && next < entities.length && entities[next].start <= token.start) {
        const entity = entities[next++];
        const mark = element("mark", {
          class: `ent ${typeClass(entity.label)}`,
          "data-label": entity.label,
          "data-start": entity.start,
          "data-end": entity.end,
          title: `${entity.label} (score ${entity.score})`,
        });
        out.append(mark);
        open = [mark, entity];
      }
      parent().append(tokenNode(token, posModel));
      if (open && token.end >= open[1].end) {
        open[0].append(element("span", { class: "ent-label" }, open[1].label));
        open = null;
      }
      position = token.end;
    }
  }
  if (position < text.length) out.append(document.createTextNode(text.slice(position)));
}

function renderTable(entities) {
  const body = document.querySelector("#entities tbody");
  body.replaceChildren();
  for (const e of entities) {
    const row = element("tr");
    for (const value of [e.text, e.label, e.score.toFixed(4), e.start, e.end, e.model]) {
      row.append(element("td", {}, String(value)));
    }
    body.append(row);
  }
  if (!entities.length) body.append(element("tr", {}, "no entities found"));
}

async function tag(event) {
  event.preventDefault();
  clearMessage();
  $("result").hidden = true;
  const text = $("text").value;
  if (!text.trim()) {
    showMessage("Type or paste some text to tag first.", "info");
    return;
  }
  const models = selectedModels();
  if (!models.length) {
    showMessage("Pick at least one model.", "info");
    return;
  }
  $("tag").disabled = true;
  try {
    let response;
    try {
      response = await fetch("/tag", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text, models }),
      });
    } catch (error) {
      showMessage(`Cannot reach the service: ${error.message}`);
      return;
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok || body === null) {
      showMessage(describeError(response.status, body, response.headers.get("retry-after")));
      return;
    }
    const doc = body.documents[0];
    const task = (name) => (modelInfo.find((m) => m.name === name) || {}).task;
    const nerModel = body.models.find((m) => task(m) === "ner");
    const posModel = body.models.find((m) => task(m) === "pos");
    renderLegend(doc.entities);
    renderText(text, doc, nerModel, posModel);
    renderTable(doc.entities);
    $("json").textContent = JSON.stringify(body, null, 2);
    $("result").hidden = false;
  } finally {
    $("tag").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", tag);
  loadModels();
});
