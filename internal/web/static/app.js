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
// The live TOTP code: fetched when asked (each fetch is audited), refreshed when it expires, with
// a countdown in between.
document.addEventListener("click", async (e) => {
  const btn = e.target.closest("[data-otp-show]");
  if (!btn) return;
  const box = btn.closest("[data-otp-url]");
  const code = box.querySelector(".otp-code"), left = box.querySelector(".otp-left"), copy = box.querySelector("[data-copy]");
  let remaining = 0, timer = null;
  const load = async () => {
    const r = await fetch(box.dataset.otpUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!r.ok) { code.textContent = "unavailable"; code.hidden = false; clearInterval(timer); return; }
    const j = await r.json();
    code.textContent = j.code; remaining = j.time_remaining;
    left.textContent = remaining + " s"; code.hidden = left.hidden = copy.hidden = false;
  };
  btn.hidden = true;
  await load();
  timer = setInterval(async () => {
    remaining--;
    if (remaining <= 0) await load(); else left.textContent = remaining + " s";
  }, 1000);
});
// The integration form shows only the chosen provider's credential fields.
function showCredentials(select) {
  for (const fs of select.form.querySelectorAll("[data-credentials]")) {
    const on = fs.dataset.credentials === select.value;
    fs.hidden = !on;
    for (const input of fs.querySelectorAll("input")) input.disabled = !on;
  }
}
document.addEventListener("change", (e) => { if (e.target.matches("[data-provider]")) showCredentials(e.target); });
document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-provider]").forEach(showCredentials));
// The organization switcher applies on change; without scripts its button does.
document.addEventListener("change", (e) => {
  if (e.target.matches("select[data-autosubmit]")) e.target.form.submit();
});
