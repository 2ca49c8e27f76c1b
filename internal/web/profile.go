package web

import (
	"net/http"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
)

// Profile → Account: change the password (which signs out the other sessions), see where the
// account is signed in, and sign out everywhere.

func (h *Handler) renderProfile(w http.ResponseWriter, r *http.Request, status int, v map[string]any) {
	ctx := r.Context()
	sessions, err := h.store.ListSessions(ctx, sessionToken(r))
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	st, err := h.store.TwoFactorStatus(ctx)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	v["Title"], v["Sessions"], v["TwoFactor"] = "Profile", sessions, st
	h.render(w, r, status, "profile", v)
}

func (h *Handler) profilePage(w http.ResponseWriter, r *http.Request) {
	h.renderProfile(w, r, http.StatusOK, map[string]any{})
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c := auth.CallerFrom(r.Context())
	ip := auth.ClientIP(r)
	v := map[string]any{}
	if ok, wait, err := h.authn.LoginAllowed(r.Context(), ip, c.User.Email); err != nil {
		h.serverError(w, r, err)
		return
	} else if !ok {
		h.throttled(w, r, "profile", "failed password checks", auth.Seconds(wait), v)
		return
	}
	current, password := r.PostFormValue("current_password"), r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		v["Error"] = "The new password and its confirmation differ."
		h.renderProfile(w, r, http.StatusBadRequest, v)
		return
	}
	err := h.store.ChangePassword(r.Context(), current, password, sessionToken(r))
	if err != nil {
		e, ok := apperr.As(err)
		if !ok || e.Kind == apperr.Internal {
			h.serverError(w, r, err)
			return
		}
		if _, wrong := e.Fields["current_password"]; wrong {
			h.countFailure(r, h.authn.LoginFailed(r.Context(), ip, c.User.Email))
		}
		v["Error"] = errorText(e)
		h.renderProfile(w, r, http.StatusBadRequest, v)
		return
	}
	v["Flash"] = "Password changed. Every other session of your account was signed out."
	h.renderProfile(w, r, http.StatusOK, v)
}

// revokeSessions signs the account out everywhere, this browser included.
func (h *Handler) revokeSessions(w http.ResponseWriter, r *http.Request) {
	if _, err := h.store.RevokeSessions(r.Context(), ""); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.setCookie(w, r, auth.SessionCookie, "", "/", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
