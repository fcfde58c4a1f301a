// Clusterdesk's own script: small progressive enhancements on top of htmx.
// Pages work without it; no inline scripts are used (the CSP forbids them).
"use strict";

// Show times in the reader's time zone and as "4 min ago", keeping the exact
// time on hover. Server-rendered <time datetime="…" data-relative> elements.
(function () {
  const units = [
    ["year", 31536000], ["month", 2592000], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1],
  ];
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const exact = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });

  function relative(date) {
    const seconds = Math.round((date.getTime() - Date.now()) / 1000);
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === "second") {
        return rtf.format(Math.round(seconds / size), unit);
      }
    }
  }

  function render(root) {
    root.querySelectorAll("time[data-relative]").forEach((el) => {
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      el.title = exact.format(date);
      el.textContent = relative(date);
    });
  }

  document.addEventListener("DOMContentLoaded", () => render(document));
  document.addEventListener("htmx:afterSettle", (e) => render(e.target));
  setInterval(() => render(document), 30000);
})();

// Spec forms (web/templates/request_spec.templ). The live check swaps only
// the error slots (out of band), so inputs keep focus and text; this marks
// each input invalid or not after its slot changed. "Add a row" copies the
// last row of a list, emptied (without JavaScript the form always ends
// every list with an empty row).
(function () {
  function markInvalid(root) {
    document.querySelectorAll("[data-error-for]").forEach((slot) => {
      const input = document.getElementById(slot.getAttribute("data-error-for"));
      if (!input) return;
      if (slot.textContent.trim() !== "") {
        input.setAttribute("aria-invalid", "true");
      } else {
        input.removeAttribute("aria-invalid");
      }
    });
  }

  function enableRows(root) {
    root.querySelectorAll("[data-add-row]").forEach((button) => {
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", () => {
        const rows = button.closest("[data-rows]").querySelectorAll("tr[data-row]");
        const last = rows[rows.length - 1];
        const copy = last.cloneNode(true);
        copy.querySelectorAll("input").forEach((el) => { el.value = ""; });
        copy.querySelectorAll("select").forEach((el) => { el.selectedIndex = 0; });
        const label = (el) => el.getAttribute("aria-label");
        copy.querySelectorAll("[aria-label]").forEach((el) => {
          el.setAttribute("aria-label", label(el).replace(/row (\d+)/, "row " + (rows.length + 1)));
        });
        last.after(copy);
        const first = copy.querySelector("input, select");
        if (first) first.focus();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => enableRows(document));
  document.addEventListener("htmx:oobAfterSwap", () => markInvalid(document));
  document.addEventListener("htmx:afterSettle", () => markInvalid(document));
})();

// Live pages (sse-connect) hold a stream open. When the person leaves, the
// stream is closed at once, even if the browser keeps the page in its
// back/forward cache: over HTTP/1.1 a browser opens six connections to a
// site at most, and streams kept open by cached pages would make the next
// page wait for a free one. A page shown again from that cache is reloaded,
// so that it is current and live again.
(function () {
  window.addEventListener("pagehide", () => {
    // htmx.trigger (not dispatchEvent) reaches the SSE extension, which
    // closes the element's EventSource on this event.
    document.querySelectorAll("[sse-connect]").forEach((el) => {
      htmx.trigger(el, "htmx:beforeCleanupElement");
    });
  });
  window.addEventListener("pageshow", (e) => {
    if (e.persisted && document.querySelector("[sse-connect]")) location.reload();
  });
})();

// Cancel a request (web/templates/request.templ, requestCancelForm).
// Without JavaScript the form sits on the page and its "Yes, cancel
// request N" box must be ticked. Here the form moves into a <dialog>
// opened by "Cancel this request…": the dialog is the confirmation, so the
// box is ticked and hidden; "Keep the request" or Escape closes it and
// nothing is sent. A form the server sent back with an error opens at once.
// The decision area is redrawn live, so new copies are enhanced as they come.
(function () {
  function enhance(root) {
    root.querySelectorAll("[data-cancel]").forEach((area) => {
      if (area.dataset.bound) return;
      area.dataset.bound = "1";
      const panel = area.querySelector("[data-cancel-panel]");
      const open = area.querySelector("[data-cancel-open]");
      const dismiss = area.querySelector("[data-cancel-dismiss]");
      const confirm = area.querySelector("[data-cancel-confirm]");
      if (!panel || !open || typeof HTMLDialogElement !== "function") return;

      const dialog = document.createElement("dialog");
      dialog.setAttribute("aria-labelledby", panel.getAttribute("aria-labelledby") || "");
      dialog.setAttribute("data-testid", "cancel-dialog");
      panel.removeAttribute("aria-labelledby");
      area.appendChild(dialog);
      dialog.appendChild(panel);
      if (confirm) {
        const box = confirm.querySelector("input[type=checkbox]");
        if (box && !box.hasAttribute("aria-invalid")) {
          box.checked = true;
          confirm.hidden = true;
        }
      }
      open.hidden = false;
      if (dismiss) {
        dismiss.hidden = false;
        dismiss.addEventListener("click", () => dialog.close());
      }
      open.addEventListener("click", () => {
        dialog.showModal();
        const reason = dialog.querySelector("textarea");
        if (reason) reason.focus();
      });
      dialog.addEventListener("close", () => open.focus());
      if (panel.querySelector("[aria-invalid=true]")) {
        dialog.showModal();
        const first = panel.querySelector("[aria-invalid=true]");
        if (first) first.focus();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:afterSettle", (e) => enhance(e.target));
})();
