package datto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"clientst0r/internal/rmm"
)

// tokenSource caches the bearer token. It is renewed at 80 % of its life rather than at the end so
// a long audit run never sends a token that expires in flight, and on the first 401 it answers.
type tokenSource struct {
	fetch func(ctx context.Context) (token string, life time.Duration, err error)
	now   func() time.Time

	mu      sync.Mutex // held while fetching: concurrent audits wait for one token, not fetch four
	token   string
	renewAt time.Time
}

func (s *tokenSource) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.now().Before(s.renewAt) {
		return s.token, nil
	}
	tok, life, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.token, s.renewAt = tok, s.now().Add(life*4/5)
	return tok, nil
}

// reject forgets tok if it is still the cached token (a newer one may already replace it).
func (s *tokenSource) reject(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == tok {
		s.token = ""
	}
}

// fetchToken runs the password grant: Datto's fixed public client, the user's key and secret.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type": {"password"},
		"username":   {c.cfg.Credentials["api_key"]},
		"password":   {c.cfg.Credentials["api_secret"]},
	}.Encode()
	var out struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	err := c.tokenAPI.Do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.endpoint("/auth/oauth/token", nil), strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth("public-client", "public")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, &out)
	switch {
	case rmm.IsStatus(err, http.StatusBadRequest): // invalid_grant: a wrong key or secret
		return "", 0, fmt.Errorf("%w (the token endpoint refused the key: %v)", rmm.ErrAuth, err)
	case err != nil:
		return "", 0, err
	case out.AccessToken == "":
		return "", 0, errors.New("the token endpoint answered without an access_token")
	}
	life := time.Duration(out.ExpiresIn * float64(time.Second))
	if life <= 0 {
		life = 100 * time.Hour // Datto's documented token life
	}
	return out.AccessToken, life, nil
}
