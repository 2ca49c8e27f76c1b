// Package vault keeps secrets encrypted at rest: a keyring of AES-256-GCM data keys, each wrapped by
// the master key, and ciphertexts bound to the table, column, organization and row they belong to,
// so a ciphertext copied elsewhere does not decrypt. The terms follow HashiCorp Vault's barrier.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// version is the first byte of every ciphertext.
const version = 1

// header is version (1) + key id (4) + nonce (12).
const header = 1 + 4 + 12

// ErrDecrypt is returned for a ciphertext that does not open: tampered, moved to another row or
// organization, or sealed under a key this keyring does not hold.
var ErrDecrypt = errors.New("vault: ciphertext does not decrypt")

// Binding is the associated data of a ciphertext: where it lives.
type Binding struct {
	Table, Column string
	Org, Row      int64
}

func (b Binding) aad() []byte {
	return []byte(b.Table + "\x00" + b.Column + "\x00" + strconv.FormatInt(b.Org, 10) + "\x00" + strconv.FormatInt(b.Row, 10))
}

// Keyring holds the unwrapped data keys. It is safe for concurrent use.
type Keyring struct {
	db     *sql.DB
	master cipher.AEAD

	mu      sync.RWMutex
	keys    map[uint32]cipher.AEAD
	current uint32
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Open loads the keyring from the vault_keys table, creating the first data key on a new
// installation. w is the write pool (a new key is written in it).
func Open(ctx context.Context, w *sql.DB, masterKey []byte, now time.Time) (*Keyring, error) {
	wrapKey, err := hkdf.Key(sha256.New, masterKey, nil, "clientst0r vault key wrapping v1", 32)
	if err != nil {
		return nil, err
	}
	master, err := newGCM(wrapKey)
	if err != nil {
		return nil, err
	}
	k := &Keyring{db: w, master: master, keys: map[uint32]cipher.AEAD{}}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	if len(k.keys) == 0 {
		if _, err := k.Rotate(ctx, now); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Refresh reads the keys again, so a key another process added becomes the one new writes use.
func (k *Keyring) Refresh(ctx context.Context) error { return k.reload(ctx) }

// reload reads every data key; keys added by another node become usable.
func (k *Keyring) reload(ctx context.Context) error {
	rows, err := k.db.QueryContext(ctx, `SELECT id, wrapped FROM vault_keys ORDER BY id`)
	if err != nil {
		return fmt.Errorf("vault: read keys: %w", err)
	}
	defer rows.Close()
	keys := map[uint32]cipher.AEAD{}
	var current uint32
	for rows.Next() {
		var id int64
		var wrapped []byte
		if err := rows.Scan(&id, &wrapped); err != nil {
			return fmt.Errorf("vault: read keys: %w", err)
		}
		raw, err := k.unwrap(uint32(id), wrapped)
		if err != nil {
			return fmt.Errorf("vault: data key %d does not unwrap with this master key", id)
		}
		aead, err := newGCM(raw)
		if err != nil {
			return err
		}
		keys[uint32(id)], current = aead, uint32(id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("vault: read keys: %w", err)
	}
	k.mu.Lock()
	k.keys, k.current = keys, current
	k.mu.Unlock()
	return nil
}

func wrapAAD(id uint32) []byte { return []byte("vault_keys\x00" + strconv.FormatUint(uint64(id), 10)) }

func (k *Keyring) unwrap(id uint32, wrapped []byte) ([]byte, error) {
	ns := k.master.NonceSize()
	if len(wrapped) < ns {
		return nil, ErrDecrypt
	}
	return k.master.Open(nil, wrapped[:ns], wrapped[ns:], wrapAAD(id))
}

// Rotate adds a new data key; new writes use it from now on. Older keys stay readable.
func (k *Keyring) Rotate(ctx context.Context, now time.Time) (uint32, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	tx, err := k.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM vault_keys`).Scan(&id); err != nil {
		return 0, fmt.Errorf("vault: next key id: %w", err)
	}
	nonce := make([]byte, k.master.NonceSize())
	rand.Read(nonce)
	wrapped := k.master.Seal(nonce, nonce, raw, wrapAAD(uint32(id)))
	if _, err := tx.ExecContext(ctx, `INSERT INTO vault_keys (id, wrapped, created_at) VALUES ($1, $2, $3)`, id, wrapped, now.UTC()); err != nil {
		return 0, fmt.Errorf("vault: add key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return uint32(id), k.reload(ctx)
}

// Current is the id of the key new ciphertexts are sealed with.
func (k *Keyring) Current() uint32 {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// Seal encrypts plaintext under the current key, bound to b.
func (k *Keyring) Seal(plaintext []byte, b Binding) []byte {
	k.mu.RLock()
	id, aead := k.current, k.keys[k.current]
	k.mu.RUnlock()
	out := make([]byte, header, header+len(plaintext)+aead.Overhead())
	out[0] = version
	binary.BigEndian.PutUint32(out[1:5], id)
	rand.Read(out[5:header])
	return aead.Seal(out, out[5:header], plaintext, b.aad())
}

// KeyID tells which key sealed a ciphertext (0 if it is not one of ours).
func KeyID(ct []byte) uint32 {
	if len(ct) < header || ct[0] != version {
		return 0
	}
	return binary.BigEndian.Uint32(ct[1:5])
}

// OpenCT decrypts a ciphertext sealed for b. A key unknown to this node is looked for once in the
// database, in case another node rotated.
func (k *Keyring) OpenCT(ctx context.Context, ct []byte, b Binding) ([]byte, error) {
	id := KeyID(ct)
	if id == 0 {
		return nil, ErrDecrypt
	}
	k.mu.RLock()
	aead := k.keys[id]
	k.mu.RUnlock()
	if aead == nil {
		if err := k.reload(ctx); err != nil {
			return nil, err
		}
		k.mu.RLock()
		aead = k.keys[id]
		k.mu.RUnlock()
		if aead == nil {
			return nil, ErrDecrypt
		}
	}
	pt, err := aead.Open(nil, ct[5:header], ct[header:], b.aad())
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
