// osteocds card preview: builds a CDS Hooks call on the server, sends it to the service, renders
// the cards and sends feedback. No framework and no build step. Everything that comes from the
// service or the patient record is inserted with textContent; the only innerHTML is card detail
// Markdown rendered and sanitized server-side (markdown-it-py with raw HTML off, then nh3).
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("preview-config").textContent);
  const $ = (id) => document.getElementById(id);
  const form = $("fire-form");
  const PREVIEW_EXTENSION = { "org.osteocds.preview": true };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeHttpUrl(value) {
    try {
      const url = new URL(value, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_error) {
      return null;
    }
  }

  function setStatus(text, kind) {
    const status = $("status");
    status.textContent = text;
    status.className = "status" + (kind ? " status-" + kind : "");
  }

  async function postJson(url, body, headers) {
    const response = await fetch(url, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json", Accept: "application/json" },
        headers || {}),
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let payload = null;
    const text = await response.text();
    try {
      payload = text ? JSON.parse(text) : null;
    } catch (_error) {
      payload = text;
    }
    return { status: response.status, ok: response.ok, body: payload };
  }

  // The service answers every error as an OperationOutcome; its first diagnostics says why.
  function diagnostics(body) {
    const issue = body && Array.isArray(body.issue) ? body.issue[0] : null;
    return issue && typeof issue.diagnostics === "string" ? issue.diagnostics : "";
  }

  // ---- form ----------------------------------------------------------------------------------

  function currentSource() {
    const checked = form.querySelector("input[name=source]:checked");
    return checked ? checked.value : "persona";
  }

  function syncForm() {
    const source = currentSource();
    for (const block of form.querySelectorAll(".source")) {
      block.hidden = !block.classList.contains("source-" + source);
    }
    const hook = $("hook").value;
    $("order-group").hidden = !(hook === "order-select" || hook === "order-sign");
  }

  function formBody() {
    const body = { hook: $("hook").value, prefetch: $("mode").value === "prefetch" };
    if (!$("order-group").hidden) body.order = $("order").value;
    if (currentSource() === "persona") {
      body.persona = $("persona").value;
    } else {
      body.fhirServer = $("fhir-server").value.trim();
      body.patientId = $("patient-id").value.trim();
      const token = $("token");
      if (token && token.value) body.token = token.value;
    }
    return body;
  }

  // ---- patient key data ----------------------------------------------------------------------

  function renderKeyData(keyData) {
    const root = $("key-data");
    root.replaceChildren();
    if (!keyData) {
      root.append(el("p", { class: "placeholder", text: "No key data for this patient." }));
      return;
    }
    const facts = el("dl", { class: "facts" });
    const addFact = (label, value) => facts.append(el("dt", { text: label }), el("dd", { text: value }));
    addFact("Patient", keyData.patient || "unknown");
    addFact(keyData.ageLabel || "Age", keyData.age === undefined ? "unknown" : keyData.age + " years");
    if (keyData.sex) addFact("Sex", keyData.sex);
    addFact("As of", keyData.asOf || "");
    root.append(facts);
    for (const section of keyData.sections || []) {
      root.append(el("h3", { text: section.title }));
      if (!section.items || section.items.length === 0) {
        root.append(el("p", { class: "none", text: section.empty || "None recorded" }));
        continue;
      }
      const list = el("ul", { class: "items", "data-section": section.id });
      for (const item of section.items) {
        list.append(el("li", {},
          el("span", { class: "item-label", text: item.label }),
          item.value ? el("span", { class: "item-value", text: item.value }) : null,
          item.when ? el("span", { class: "item-when", text: item.when }) : null));
      }
      root.append(list);
    }
    for (const note of keyData.notes || []) {
      root.append(el("p", { class: "note", text: note }));
    }
  }

  // ---- cards ---------------------------------------------------------------------------------

  async function renderDetails(cards) {
    const details = cards.map((card) => (typeof card.detail === "string" ? card.detail : ""));
    if (!details.some(Boolean)) return details.map(() => "");
    const answer = await postJson(config.renderUrl, { markdown: details });
    if (!answer.ok || !answer.body || !Array.isArray(answer.body.html)) {
      throw new Error("Markdown rendering failed (HTTP " + answer.status + ")");
    }
    return answer.body.html;
  }

  function renderSource(source) {
    if (!source || typeof source.label !== "string") return null;
    const href = source.url ? safeHttpUrl(source.url) : null;
    const label = href
      ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: source.label })
      : el("span", { text: source.label });
    return el("div", { class: "card-source" }, "Source: ", label);
  }

  function describeAction(action) {
    const resource = action.resource || {};
    const concept = resource.medicationCodeableConcept || {};
    const coding = (concept.coding || [])[0] || {};
    const what = concept.text || coding.display || action.resourceId || resource.resourceType || "";
    return (action.type || "action") + ": " + (action.description || what);
  }

  function feedbackStatus(card, text, kind) {
    const holder = card.querySelector(".card-feedback");
    holder.textContent = text;
    holder.className = "card-feedback feedback-" + kind;
  }

  async function sendFeedback(cardNode, serviceId, item) {
    item.outcomeTimestamp = new Date().toISOString();
    item.extension = PREVIEW_EXTENSION;
    const body = { feedback: [item], extension: PREVIEW_EXTENSION };
    const url = config.feedbackUrlTemplate.replace("__SERVICE__", encodeURIComponent(serviceId));
    feedbackStatus(cardNode, "Sending feedback…", "pending");
    try {
      const answer = await postJson(url, body);
      if (answer.ok) {
        const label = item.outcome === "accepted" ? "Accepted" : "Overridden";
        feedbackStatus(cardNode, label + ": feedback stored (HTTP " + answer.status + ")", "ok");
        for (const button of cardNode.querySelectorAll("button")) button.disabled = true;
      } else {
        feedbackStatus(cardNode, "Feedback refused (HTTP " + answer.status + ")", "error");
      }
    } catch (error) {
      feedbackStatus(cardNode, "Feedback failed: " + error.message, "error");
    }
  }

  function renderSuggestions(card, cardNode, serviceId) {
    if (!Array.isArray(card.suggestions) || card.suggestions.length === 0) return null;
    const box = el("div", { class: "suggestions" });
    for (const suggestion of card.suggestions) {
      const canSend = Boolean(card.uuid && suggestion.uuid);
      const button = el("button", {
        type: "button",
        class: "suggestion" + (suggestion.isRecommended ? " recommended" : ""),
        "data-testid": "accept",
        title: canSend ? "Accept: sends feedback 'accepted'" : "No uuid: no feedback can be sent",
        disabled: !canSend,
      }, suggestion.label);
      button.addEventListener("click", () => sendFeedback(cardNode, serviceId, {
        card: card.uuid,
        outcome: "accepted",
        acceptedSuggestions: [{ id: suggestion.uuid }],
      }));
      const actions = el("ul", { class: "actions" });
      for (const action of suggestion.actions || []) actions.append(el("li", { text: describeAction(action) }));
      box.append(el("div", { class: "suggestion-row" }, button,
        actions.childElementCount ? actions : null));
    }
    return box;
  }

  function renderOverride(card, cardNode, serviceId) {
    if (!card.uuid) return null;
    const reasons = Array.isArray(card.overrideReasons) ? card.overrideReasons : [];
    const select = el("select", { class: "override-reason", "data-testid": "override-reason",
      "aria-label": "Override reason" });
    select.append(el("option", { value: "", text: reasons.length ? "Choose a reason…" : "No reason given" }));
    reasons.forEach((reason, index) => {
      select.append(el("option", { value: String(index), text: reason.display || reason.code }));
    });
    const comment = el("input", { type: "text", class: "override-comment",
      placeholder: "Comment (optional)", "aria-label": "Override comment" });
    const button = el("button", { type: "button", class: "override", "data-testid": "override" },
      "Override");
    button.addEventListener("click", () => {
      const item = { card: card.uuid, outcome: "overridden" };
      const overrideReason = {};
      if (select.value !== "") overrideReason.reason = reasons[Number(select.value)];
      if (comment.value.trim()) overrideReason.userComment = comment.value.trim();
      if (Object.keys(overrideReason).length) item.overrideReason = overrideReason;
      sendFeedback(cardNode, serviceId, item);
    });
    return el("div", { class: "override-row" }, select, comment, button);
  }

  function renderLinks(card) {
    if (!Array.isArray(card.links) || card.links.length === 0) return null;
    const list = el("ul", { class: "links", "aria-label": "Links" });
    for (const link of card.links) {
      const href = safeHttpUrl(link.url);
      const text = link.label + (link.type === "smart" ? " (SMART app)" : "");
      list.append(el("li", {}, href
        ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text })
        : el("span", { text })));
    }
    return el("div", { class: "links-box" }, el("div", { class: "links-title", text: "Links" }), list);
  }

  function renderCard(card, detailHtml, serviceId) {
    const indicator = ["info", "warning", "critical"].includes(card.indicator) ? card.indicator : "info";
    const topic = card.source && card.source.topic && typeof card.source.topic.code === "string"
      ? card.source.topic.code : undefined;
    const node = el("article", { class: "card card-" + indicator, "data-indicator": indicator,
      "data-testid": "card", "data-topic": topic, "data-uuid": card.uuid });
    node.append(el("div", { class: "card-head" },
      el("span", { class: "indicator indicator-" + indicator, text: indicator }),
      el("h3", { class: "card-summary", text: card.summary || "" })));
    if (detailHtml) {
      const detail = el("div", { class: "card-detail" });
      detail.innerHTML = detailHtml; // sanitized server-side, see service/preview/markdown.py
      node.append(detail);
    }
    node.append(...[renderSuggestions(card, node, serviceId), renderLinks(card), renderSource(card.source),
      renderOverride(card, node, serviceId), el("div", { class: "card-feedback" })].filter(Boolean));
    return node;
  }

  async function renderCards(cards, serviceId) {
    const root = $("cards");
    root.replaceChildren();
    $("card-count").textContent = "(" + cards.length + ")";
    if (cards.length === 0) {
      root.append(el("p", { class: "placeholder", "data-testid": "no-cards",
        text: "The service answered with no cards for this call." }));
      return;
    }
    const details = await renderDetails(cards);
    cards.forEach((card, index) => root.append(renderCard(card, details[index], serviceId)));
  }

  // ---- firing --------------------------------------------------------------------------------

  function showJson(id, value) {
    $(id).textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  async function fire(event) {
    event.preventDefault();
    const button = $("fire");
    button.disabled = true;
    setStatus("Building the request…", "pending");
    try {
      const built = await postJson(config.buildUrl, formBody());
      if (!built.ok) {
        const message = diagnostics(built.body) || "HTTP " + built.status;
        setStatus("Could not build the request: " + message, "error");
        return;
      }
      const { serviceId, endpoint, request, keyData } = built.body;
      showJson("request-json", request);
      $("request-endpoint").textContent = "POST " + endpoint;
      renderKeyData(keyData);
      setStatus("Calling " + serviceId + "…", "pending");
      const started = performance.now();
      // Development: the page calls the service endpoint itself, as an EHR would. Production:
      // the server rebuilds the request from the same choices and calls the service in-process
      // (the page holds no CDS client JWT).
      const answer = config.serverSideFire
        ? await postJson(config.fireUrl, formBody())
        : await postJson(endpoint, request);
      const elapsed = Math.round(performance.now() - started);
      showJson("response-json", answer.body);
      $("response-status").textContent = "HTTP " + answer.status + " · " + elapsed + " ms";
      if (!answer.ok || !answer.body || !Array.isArray(answer.body.cards)) {
        $("cards").replaceChildren(el("p", { class: "error", "data-testid": "service-error",
          text: "The service answered HTTP " + answer.status + ": see the response below." }));
        $("response-details").open = true;
        setStatus("Service error (HTTP " + answer.status + ")", "error");
        return;
      }
      await renderCards(answer.body.cards, serviceId);
      setStatus(answer.body.cards.length + " card(s) in " + elapsed + " ms", "ok");
    } catch (error) {
      setStatus("Failed: " + error.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("change", syncForm);
  form.addEventListener("submit", fire);
  syncForm();
  document.body.dataset.ready = "true";
})();
