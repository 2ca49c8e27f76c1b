// Small progressive enhancements; every page works without them.
document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-copy]");
  if (!b) return;
  const el = document.querySelector(b.dataset.copy);
  navigator.clipboard.writeText(el.value || el.textContent).then(() => {
    const t = b.textContent;
    b.textContent = "Copied";
    setTimeout(() => (b.textContent = t), 1500);
  });
});
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset.confirm;
  if (msg && !confirm(msg)) e.preventDefault();
});
// Filter forms leave out the fields left empty, so the URL shows only the filters in use.
document.addEventListener("submit", (e) => {
  if (!e.target.hasAttribute("data-drop-empty")) return;
  for (const el of e.target.elements) if (el.name && el.value === "") el.disabled = true;
});
