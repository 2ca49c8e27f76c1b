package datto

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"clientst0r/internal/rmm"
)

// fetchToken runs the password grant: Datto's fixed public client, the user's key and secret.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type": {"password"},
		"username":   {c.cfg.Credentials["api_key"]},
		"password":   {c.cfg.Credentials["api_secret"]},
	}.Encode()
	// Datto's documented token life stands in when the answer gives none.
	return rmm.OAuthToken(ctx, c.tokenAPI, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.endpoint("/auth/oauth/token", nil), strings.NewReader(form))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth("public-client", "public")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, 100*time.Hour)
}
