// Package events delivers recorded events to webhooks: Standard Webhooks signatures, an HTTP client
// that refuses private addresses when it connects, the retry schedule, and the River worker that
// makes each attempt.
package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Sign returns the webhook-signature header value: one "v1,<base64 HMAC-SHA256>" per secret,
// space-separated, over "id.timestamp.body" (Standard Webhooks). A secret is "whsec_" followed by
// the base64 of the key.
func Sign(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return "", fmt.Errorf("events: malformed webhook secret: %w", err)
		}
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s.%d.", id, timestamp)
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
