// Copy buttons: the clipboard API where the browser offers it (HTTPS or localhost), else select the text and
// use the older copy command, else leave it selected for Ctrl+C. No inline scripts: the CSP forbids them.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copy + "-copied");
  const text = source.value !== undefined ? source.value : source.textContent;
  let done = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch (_) { /* fall back below */ }
  }
  if (!done) {
    source.focus();
    source.select ? source.select() : window.getSelection().selectAllChildren(source);
    try { done = document.execCommand("copy"); } catch (_) { done = false; }
  }
  if (status) status.textContent = done ? "Copied." : "Selected: press Ctrl+C to copy.";
});
