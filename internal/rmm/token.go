package rmm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// TokenSource caches an OAuth bearer token and renews it at 80 % of its life rather than at the
// end, so a long run never sends a token that expires in flight. Concurrent callers wait for one
// fetch instead of each fetching.
type TokenSource struct {
	Fetch func(ctx context.Context) (token string, life time.Duration, err error)
	Now   func() time.Time

	mu      sync.Mutex // held while fetching
	token   string
	renewAt time.Time
}

// Get returns the cached token, fetching a new one when there is none or it is due for renewal.
func (s *TokenSource) Get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.Now().Before(s.renewAt) {
		return s.token, nil
	}
	tok, life, err := s.Fetch(ctx)
	if err != nil {
		return "", err
	}
	s.token, s.renewAt = tok, s.Now().Add(life*4/5)
	return tok, nil
}

// Authorize sets the request's bearer token (API.Authorize).
func (s *TokenSource) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := s.Get(ctx)
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return err
}

// Reject forgets tok if it is still the cached token (a newer one may already replace it).
func (s *TokenSource) Reject(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == tok {
		s.token = ""
	}
}

// Drop forgets the cached token, whichever it is (API.Reauthorize for sequential requests).
func (s *TokenSource) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ""
}

// OAuthToken asks a token endpoint (the request newReq builds, sent through api) for an access
// token and returns it with its life: expires_in, or defaultLife when the answer has none. A 400
// (invalid_grant, invalid_client) means the credentials were refused: ErrAuth.
func OAuthToken(ctx context.Context, api *API, newReq func() (*http.Request, error), defaultLife time.Duration) (string, time.Duration, error) {
	var out struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	err := api.Do(ctx, newReq, &out)
	switch {
	case IsStatus(err, http.StatusBadRequest):
		return "", 0, fmt.Errorf("%w (the token endpoint refused the credentials: %v)", ErrAuth, err)
	case err != nil:
		return "", 0, err
	case out.AccessToken == "":
		return "", 0, errors.New("the token endpoint answered without an access_token")
	}
	life := time.Duration(out.ExpiresIn * float64(time.Second))
	if life <= 0 {
		life = defaultLife
	}
	return out.AccessToken, life, nil
}
