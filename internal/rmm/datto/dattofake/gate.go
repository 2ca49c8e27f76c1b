package dattofake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// gate counts and logs requests, applies forced 429s, the sliding-window limit and bearer auth.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isToken := r.URL.Path == "/auth/oauth/token"
		now := time.Now()
		s.mu.Lock()
		s.requests++
		if len(s.log) < 1_000_000 {
			s.log = append(s.log, r.Method+" "+r.URL.RequestURI())
		}
		if isToken {
			s.tokenRequests++
		}
		if !isToken && s.throttle > 0 {
			s.throttle--
			s.throttled++
			s.mu.Unlock()
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "Too many requests"})
			return
		}
		status, delay := s.admitLocked(now)
		valid := isToken || s.validLocked(r.Header.Get("Authorization"), now)
		s.mu.Unlock()
		switch status {
		case http.StatusTooManyRequests:
			writeJSON(w, status, map[string]string{"message": "Request rate limit exceeded"})
			return
		case http.StatusForbidden:
			writeJSON(w, status, map[string]string{"message": "Access from this IP address is temporarily blocked"})
			return
		}
		if delay > 0 { // past 90 % of the limit Datto slows every answer down by a second
			time.Sleep(delay)
		}
		if !valid {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "Access token expired or invalid"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// admitLocked applies the sliding window: 429 beyond Limit requests in Window, and a 403 IP block
// for one window once as many requests again were refused.
func (s *Server) admitLocked(now time.Time) (status int, delay time.Duration) {
	cut := now.Add(-s.opts.Window)
	s.accepted = dropBefore(s.accepted, cut)
	s.rejected = dropBefore(s.rejected, cut)
	switch {
	case now.Before(s.blockedUntil):
		return http.StatusForbidden, 0
	case len(s.accepted) >= s.opts.Limit:
		s.rejected = append(s.rejected, now)
		s.throttled++
		if len(s.rejected) >= s.opts.Limit {
			s.blockedUntil = now.Add(s.opts.Window)
		}
		return http.StatusTooManyRequests, 0
	}
	s.accepted = append(s.accepted, now)
	if float64(len(s.accepted)) > 0.9*float64(s.opts.Limit) {
		return 0, s.opts.Window / 60
	}
	return 0, 0
}

func dropBefore(ts []time.Time, cut time.Time) []time.Time {
	i, _ := slices.BinarySearchFunc(ts, cut, time.Time.Compare)
	return ts[i:]
}

func (s *Server) validLocked(header string, now time.Time) bool {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return false
	}
	t, ok := s.tokens[tok]
	return ok && t.seq > s.expiredThrough && now.Sub(t.issued) < time.Duration(s.opts.ExpiresIn)*time.Second
}

// token is the password grant of the public client public-client:public.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if user, pass, ok := r.BasicAuth(); !ok || user != "public-client" || pass != "public" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "Full authentication is required to access this resource"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.ParseForm() != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "form body expected"})
		return
	}
	if r.PostForm.Get("grant_type") != "password" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "Unsupported grant type"})
		return
	}
	if r.PostForm.Get("username") != s.opts.APIKey || r.PostForm.Get("password") != s.opts.APISecret {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Bad credentials"})
		return
	}
	b := make([]byte, 12)
	rand.Read(b)
	s.mu.Lock()
	s.tokenSeq++
	tok := fmt.Sprintf("datto%d.%s", s.tokenSeq, hex.EncodeToString(b))
	s.tokens[tok] = token{seq: s.tokenSeq, issued: time.Now()}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer",
		"expires_in": s.opts.ExpiresIn, "scope": "default", "jti": hex.EncodeToString(b[:8])})
}
