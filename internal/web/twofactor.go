package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

// Profile → Two-factor: enrol with a QR code (or the secret as text), confirm with a code, keep the
// recovery codes shown once, regenerate them, turn two-factor off. A user who must use two-factor
// and has not enrolled is sent here by the session check and reaches nothing else.

// twoFactorPath is the Profile → Two-factor page.
const twoFactorPath = "/profile/two-factor"

// enrolmentPath reports whether a session that must enrol may open path.
func enrolmentPath(path string) bool {
	return path == twoFactorPath || path == twoFactorPath+"/setup" || path == twoFactorPath+"/confirm"
}

// renderTwoFactor shows the page for the current state; v carries errors, flashes and new codes.
// With two-factor off it makes sure a secret is waiting to be scanned.
func (h *Handler) renderTwoFactor(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	ctx := r.Context()
	st, err := h.store.TwoFactorStatus(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if !st.Enabled && st.Setup == nil {
		setup, err := h.store.StartTwoFactorSetup(ctx, false)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		st.Setup = &setup
	}
	if st.Setup != nil {
		qr, err := qrSVG(st.Setup.URI(), "QR code to scan with an authenticator app")
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		v["QR"] = qr
	}
	if _, ok := v["Next"]; !ok {
		v["Next"] = safeNext(r.URL.Query().Get("next"))
	}
	v["Title"], v["TwoFactor"] = "Two-factor", st
	v["MustEnrol"] = auth.CallerFrom(ctx).NeedsTwoFactor
	h.render(w, r, status, "twofactor", v)
}

func (h *Handler) twoFactorPage(w http.ResponseWriter, r *http.Request) {
	h.renderTwoFactor(w, r, http.StatusOK, map[string]any{})
}

// twoFactorSetup starts enrolment again with a new secret.
func (h *Handler) twoFactorSetup(w http.ResponseWriter, r *http.Request) {
	if _, err := h.store.StartTwoFactorSetup(r.Context(), true); err != nil && !apperr.Is(err, apperr.Conflict) {
		h.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, twoFactorPath+"?next="+url.QueryEscape(safeNext(r.PostFormValue("next"))), http.StatusSeeOther)
}

// codeAllowed applies the per-account code throttling before an attempt: it answers 429 itself
// (returning false) when the account has had too many wrong codes.
func (h *Handler) codeAllowed(w http.ResponseWriter, r *http.Request, v map[string]any) bool {
	c := auth.CallerFrom(r.Context())
	ok, wait, err := h.authn.CodeAllowed(r.Context(), c.User.ID)
	if err != nil {
		h.serverError(w, r, err)
		return false
	}
	if !ok {
		s := strconv.Itoa(auth.Seconds(wait))
		w.Header().Set("Retry-After", s)
		v["Error"] = "Too many wrong codes. Try again in " + s + " seconds."
		h.renderTwoFactor(w, r, http.StatusTooManyRequests, v)
		return false
	}
	return true
}

// twoFactorFailed renders the page after a store error: a wrong code counts against the account.
func (h *Handler) twoFactorFailed(w http.ResponseWriter, r *http.Request, err error, v map[string]any) {
	e, ok := apperr.As(err)
	if !ok || e.Kind == apperr.Internal {
		h.serverError(w, r, err)
		return
	}
	if errors.Is(err, store.ErrWrongCode) {
		h.countFailure(r, h.authn.CodeFailed(r.Context(), auth.CallerFrom(r.Context()).User.ID))
	}
	v["Error"] = errorText(e)
	h.renderTwoFactor(w, r, http.StatusBadRequest, v)
}

func (h *Handler) twoFactorConfirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	v := map[string]any{"Next": safeNext(r.PostFormValue("next"))}
	if !h.codeAllowed(w, r, v) {
		return
	}
	codes, err := h.store.EnableTwoFactor(r.Context(), r.PostFormValue("code"))
	if err != nil {
		h.twoFactorFailed(w, r, err, v)
		return
	}
	// The caller in the context predates the change; the page no longer restricts them.
	auth.CallerFrom(r.Context()).NeedsTwoFactor = false
	v["RecoveryCodes"], v["Flash"] = codes, "Two-factor is on. Sign-ins now ask for a code from your authenticator app."
	h.renderTwoFactor(w, r, http.StatusOK, v)
}

func (h *Handler) twoFactorRecovery(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	v := map[string]any{}
	if !h.codeAllowed(w, r, v) {
		return
	}
	codes, err := h.store.RegenerateRecoveryCodes(r.Context(), r.PostFormValue("code"), r.PostFormValue("password"))
	if err != nil {
		h.twoFactorFailed(w, r, err, v)
		return
	}
	v["RecoveryCodes"], v["Flash"] = codes, "New recovery codes: the old ones no longer work."
	h.renderTwoFactor(w, r, http.StatusOK, v)
}

func (h *Handler) twoFactorDisable(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	v := map[string]any{}
	if !h.codeAllowed(w, r, v) {
		return
	}
	if err := h.store.DisableTwoFactor(r.Context(), r.PostFormValue("code"), r.PostFormValue("password"), sessionToken(r)); err != nil {
		h.twoFactorFailed(w, r, err, v)
		return
	}
	// Required two-factor applies from the next request on: the page then asks to enrol again.
	http.Redirect(w, r, twoFactorPath, http.StatusSeeOther)
}
