package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"clientst0r/internal/apperr"
	"clientst0r/internal/auth"
	"clientst0r/internal/store"
)

// Sign-in is the password, then, for an account with two-factor, a code. Between the two the
// browser holds only a pending login (its own short-lived cookie, scoped to /login), never a
// session. Both steps count failures against the address and the account (auth's login
// throttling), and the code step also against the account over a longer window.

// pendingCookie carries the pending login's token between the password and the code.
const pendingCookie = "clientst0r_login"

// secure reports whether cookies get the Secure attribute: the request came over TLS, or the
// installation's base URL is https (TLS ends at a proxy in front of us).
func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(h.baseURL, "https://")
}

// setCookie sets (maxAge > 0) or clears (maxAge < 0) one of our cookies: HttpOnly, SameSite=Lax,
// Secure over HTTPS.
func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: h.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// startSession hands the browser its session cookie. The store ends the session earlier when it
// sits idle.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, token string) {
	h.setCookie(w, r, pendingCookie, "", "/login", -1)
	h.setCookie(w, r, auth.SessionCookie, token, "/", int(store.SessionMaxLifetime.Seconds()))
}

// sessionToken is the request's session cookie value ("" without one).
func sessionToken(r *http.Request) string {
	if ck, err := r.Cookie(auth.SessionCookie); err == nil {
		return ck.Value
	}
	return ""
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "login", map[string]any{"Title": "Sign in", "Next": safeNext(r.URL.Query().Get("next"))})
}

// countFailure logs a failed attempt that could not be counted; the page answers the attempt anyway.
func (h *Handler) countFailure(r *http.Request, err error) {
	if err != nil {
		h.log.Error("web: count a failed attempt", "path", r.URL.Path, "err", err)
	}
}

// throttled renders page with a 429 and how long to wait.
func (h *Handler) throttled(w http.ResponseWriter, r *http.Request, page, what string, wait int, v map[string]any) {
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	v["Error"] = "Too many " + what + ". Try again in " + strconv.Itoa(wait) + " seconds."
	h.render(w, r, http.StatusTooManyRequests, page, v)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	ip := auth.ClientIP(r)
	v := map[string]any{"Title": "Sign in", "Next": next, "Email": email}
	if ok, wait, err := h.authn.LoginAllowed(r.Context(), ip, email); err != nil {
		h.serverError(w, r, err)
		return
	} else if !ok {
		h.throttled(w, r, "login", "failed sign-ins", auth.Seconds(wait), v)
		return
	}
	res, err := h.store.BeginLogin(r.Context(), email, password, ip, r.UserAgent())
	if err != nil {
		if !apperr.Is(err, apperr.Unauthorized) {
			h.log.Error("login", "err", err)
			v["Error"] = "Sign-in failed because of a server error; try again."
			h.render(w, r, http.StatusInternalServerError, "login", v)
			return
		}
		h.countFailure(r, h.authn.LoginFailed(r.Context(), ip, email))
		v["Error"] = "Invalid email or password."
		h.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	if res.Pending != "" {
		h.setCookie(w, r, pendingCookie, res.Pending, "/login", int(store.PendingLoginLifetime.Seconds()))
		http.Redirect(w, r, "/login/code?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	h.startSession(w, r, res.Session)
	if res.MustEnrol {
		next = twoFactorPath + "?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loginAgain ends a pending login that can no longer be used and asks for the password again.
func (h *Handler) loginAgain(w http.ResponseWriter, r *http.Request, next string) {
	h.setCookie(w, r, pendingCookie, "", "/login", -1)
	h.render(w, r, http.StatusUnauthorized, "login", map[string]any{"Title": "Sign in", "Next": next, "Error": store.ErrPendingLogin.Detail})
}

func (h *Handler) loginCodePage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	ck, err := r.Cookie(pendingCookie)
	if err != nil {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	if _, err := h.store.PendingLogin(r.Context(), ck.Value); err != nil {
		if apperr.Is(err, apperr.Unauthorized) {
			h.loginAgain(w, r, next)
			return
		}
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "login_code", map[string]any{"Title": "Two-factor code", "Next": next})
}

func (h *Handler) loginCode(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	code, next := r.PostFormValue("code"), safeNext(r.PostFormValue("next"))
	ck, err := r.Cookie(pendingCookie)
	if err != nil {
		h.loginAgain(w, r, next)
		return
	}
	ctx := r.Context()
	u, err := h.store.PendingLogin(ctx, ck.Value)
	if err != nil {
		if apperr.Is(err, apperr.Unauthorized) {
			h.loginAgain(w, r, next)
			return
		}
		h.serverError(w, r, err)
		return
	}
	ip := auth.ClientIP(r)
	v := map[string]any{"Title": "Two-factor code", "Next": next}
	if ok, wait, err := h.authn.LoginAllowed(ctx, ip, u.Email); err != nil {
		h.serverError(w, r, err)
		return
	} else if !ok {
		h.throttled(w, r, "login_code", "failed sign-ins", auth.Seconds(wait), v)
		return
	}
	if ok, wait, err := h.authn.CodeAllowed(ctx, u.ID); err != nil {
		h.serverError(w, r, err)
		return
	} else if !ok {
		h.throttled(w, r, "login_code", "wrong codes", auth.Seconds(wait), v)
		return
	}
	res, err := h.store.CompleteLogin(ctx, ck.Value, code, ip, r.UserAgent())
	switch {
	case err == nil:
	case errors.Is(err, store.ErrWrongCode):
		h.countFailure(r, h.authn.LoginFailed(ctx, ip, u.Email))
		h.countFailure(r, h.authn.CodeFailed(ctx, u.ID))
		v["Error"] = store.ErrWrongCode.Detail
		h.render(w, r, http.StatusUnauthorized, "login_code", v)
		return
	case errors.Is(err, store.ErrPendingLogin):
		h.loginAgain(w, r, next)
		return
	default:
		h.serverError(w, r, err)
		return
	}
	h.startSession(w, r, res.Session)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if token := sessionToken(r); token != "" {
		if err := h.store.Logout(r.Context(), token); err != nil {
			h.log.Error("logout", "err", err)
		}
	}
	h.setCookie(w, r, auth.SessionCookie, "", "/", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
