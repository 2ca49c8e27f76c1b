package auth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"
)

// KeyPrefix starts every API key.
const KeyPrefix = "itdocs_live_"

const (
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	keyRandBytes = 32
	// keyBodyLen is the base62 length of 32 random bytes, zero-padded: ceil(256 / log2(62)).
	keyBodyLen = 43
	// shownPrefixLen is how much of the random part the prefix keeps: enough to recognise a key,
	// far too little to guess it.
	shownPrefixLen = 8
)

// Secrets are the server-side keys derived from the master key.
type Secrets struct {
	tokenMAC []byte
}

// DeriveSecrets derives the token HMAC key from the master key, so one secret protects everything.
func DeriveSecrets(master []byte) Secrets {
	k, err := hkdf.Key(sha256.New, master, nil, "clientst0r token digest v1", 32)
	if err != nil {
		panic(err) // HKDF-SHA256 can produce 32 bytes from any input
	}
	return Secrets{tokenMAC: k}
}

// Digest is the stored form of an API key or session token: HMAC-SHA256 under the server secret, so
// a copy of the database alone cannot be used to authenticate.
func (s Secrets) Digest(token string) string {
	m := hmac.New(sha256.New, s.tokenMAC)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// NewAPIKey returns a new plaintext key and its displayable prefix.
func NewAPIKey() (plaintext, prefix string) {
	b := make([]byte, keyRandBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	body := new(big.Int).SetBytes(b).Text(62)
	body = strings.Repeat("0", keyBodyLen-len(body)) + body
	plaintext = KeyPrefix + body
	return plaintext, plaintext[:len(KeyPrefix)+shownPrefixLen]
}

// LooksLikeAPIKey reports whether s has the shape of one of our keys, so garbage is rejected without
// touching the database.
func LooksLikeAPIKey(s string) bool {
	body, ok := strings.CutPrefix(s, KeyPrefix)
	if !ok || len(body) < keyBodyLen || len(body) > 2*keyBodyLen {
		return false
	}
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62, body[i]) < 0 {
			return false
		}
	}
	return true
}

// NewSessionToken returns a random session token for a cookie.
func NewSessionToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
