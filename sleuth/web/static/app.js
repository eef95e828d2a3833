// Sleuth's page script: sends the forms (with the CSRF header), follows a run's progress over
// server-sent events, opens a citation's document beside the report. No inline script anywhere (CSP).
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function post(url, body) {
  const isForm = body instanceof FormData;
  const response = await fetch(url, {
    method: "POST",
    headers: isForm ? { "X-Sleuth-CSRF": csrf() } : { "X-Sleuth-CSRF": csrf(), "Content-Type": "application/json" },
    body: isForm ? body : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function showError(id, error) {
  const el = document.getElementById(id);
  if (el) { el.textContent = error.message || String(error); el.hidden = false; }
}

// Progress lines of the current job; on its end, what the page should do next.
function follow(threadId, onEnd) {
  const panel = document.getElementById("progress");
  const log = document.getElementById("progress-log");
  if (panel) panel.hidden = false;
  const source = new EventSource(`/api/threads/${encodeURIComponent(threadId)}/events`);
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.kind === "progress") {
      const item = document.createElement("li");
      item.className = `node-${event.node}`;
      item.textContent = event.line;  // text, never markup
      log.appendChild(item);
      return;
    }
    source.close();
    onEnd(event);
  };
  source.onerror = () => { source.close(); onEnd({ kind: "error", message: "lost the connection to the server" }); };
}

function reloadOnEnd(errorId) {
  return (event) => {
    if (event.kind === "error") { showError(errorId, new Error(event.message)); document.getElementById("progress").hidden = true; return; }
    window.location.reload();
  };
}

function setupAsk() {
  const form = document.getElementById("ask-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const question = form.querySelector("#question").value;
    try {
      const started = await post("/api/ask", { question, thread_id: form.dataset.thread || null });
      window.location.href = `/threads/${started.thread_id}`;
    } catch (error) { showError("ask-error", error); }
  });
}

function setupThread() {
  const thread = document.getElementById("thread");
  if (!thread) return;
  const id = thread.dataset.thread;
  if (thread.dataset.running) follow(id, reloadOnEnd("ask-error"));
  const cancel = document.getElementById("cancel-button");
  if (cancel) cancel.addEventListener("click", () => post(`/api/threads/${id}/cancel`, {}).catch(() => {}));
  const items = document.getElementById("plan-items");
  if (items) {
    items.addEventListener("click", (e) => {
      if (e.target.classList.contains("remove") && items.children.length > 1) e.target.parentElement.remove();
    });
    document.getElementById("plan-add").addEventListener("click", () => {
      const li = document.createElement("li");
      const input = document.createElement("input");
      input.className = "plan-q"; input.type = "text";
      const remove = document.createElement("button");
      remove.type = "button"; remove.className = "remove secondary"; remove.textContent = "Remove";
      li.append(input, " ", remove);
      items.appendChild(li);
      input.focus();
    });
    const answer = async (action) => {
      const plan = [...items.querySelectorAll(".plan-q")].map((i) => i.value).filter((q) => q.trim());
      try {
        await post(`/api/threads/${id}/plan`, { action, plan });
        document.getElementById("plan").hidden = true;
        follow(id, reloadOnEnd("ask-error"));
      } catch (error) { showError("ask-error", error); }
    };
    document.getElementById("plan-accept").addEventListener("click", () => answer("accept"));
    document.getElementById("plan-cancel").addEventListener("click", () => answer("cancel"));
  }
  const viewer = document.getElementById("viewer");
  if (viewer) {
    document.addEventListener("click", async (e) => {
      const link = e.target.closest("a.cite");
      if (!link) return;
      e.preventDefault();
      const response = await fetch(`${link.getAttribute("href")}?panel=1`);
      viewer.innerHTML = await response.text();  // server-rendered and escaped
      viewer.hidden = false;
      const mark = viewer.querySelector("mark.cited-span");
      if (mark) mark.scrollIntoView({ block: "center" });
      document.querySelectorAll(".claim.active").forEach((c) => c.classList.remove("active"));
      const claim = link.closest(".claim");
      if (claim) claim.classList.add("active");
    });
  }
}

function setupIngest() {
  const form = document.getElementById("ingest-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const started = await post("/api/corpus/ingest", new FormData(form));
      follow(started.thread_id, reloadOnEnd("ingest-error"));
    } catch (error) { showError("ingest-error", error); }
  });
}

document.addEventListener("DOMContentLoaded", () => { setupAsk(); setupThread(); setupIngest(); });
