package vault_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"clientst0r/internal/db"
	"clientst0r/internal/testutil"
	"clientst0r/internal/vault"
)

var master = []byte("vault test master key, 32 bytes!")

func TestSealBindsToItsPlace(t *testing.T) {
	testutil.EachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k, err := vault.Open(ctx, d.W, master, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		here := vault.Binding{Table: "passwords", Column: "password_ct", Org: 1, Row: 10}
		ct := k.Seal([]byte("hunter2hunter2"), here)
		if bytes.Contains(ct, []byte("hunter2")) || vault.KeyID(ct) != 1 {
			t.Fatal("ciphertext shows the plaintext or the wrong key")
		}
		if pt, err := k.OpenCT(ctx, ct, here); err != nil || string(pt) != "hunter2hunter2" {
			t.Fatalf("open: %q %v", pt, err)
		}
		for _, elsewhere := range []vault.Binding{
			{Table: "passwords", Column: "password_ct", Org: 1, Row: 11}, // another row
			{Table: "passwords", Column: "password_ct", Org: 2, Row: 10}, // another organization
			{Table: "passwords", Column: "notes_ct", Org: 1, Row: 10},    // another column
			{Table: "webhooks", Column: "password_ct", Org: 1, Row: 10},  // another table
		} {
			if _, err := k.OpenCT(ctx, ct, elsewhere); !errors.Is(err, vault.ErrDecrypt) {
				t.Errorf("moved to %+v: %v", elsewhere, err)
			}
		}
		tampered := bytes.Clone(ct)
		tampered[len(tampered)-1] ^= 1
		if _, err := k.OpenCT(ctx, tampered, here); !errors.Is(err, vault.ErrDecrypt) {
			t.Errorf("tampered: %v", err)
		}

		// Rotation: new seals use the new key, old ciphertexts stay readable, also for a second
		// process that loaded the keyring before the rotation.
		other, err := vault.Open(ctx, d.W, master, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		id, err := k.Rotate(ctx, time.Now())
		if err != nil || id != 2 || k.Current() != 2 {
			t.Fatalf("rotate: %d %v", id, err)
		}
		ct2 := k.Seal([]byte("new"), here)
		if vault.KeyID(ct2) != 2 {
			t.Fatal("new writes must use the new key")
		}
		if pt, err := other.OpenCT(ctx, ct2, here); err != nil || string(pt) != "new" {
			t.Fatalf("another process reads a ciphertext of the new key: %v", err)
		}
		if pt, err := k.OpenCT(ctx, ct, here); err != nil || string(pt) != "hunter2hunter2" {
			t.Fatalf("old ciphertext after rotation: %v", err)
		}

		// The wrong master key cannot unwrap the data keys.
		if _, err := vault.Open(ctx, d.W, []byte("another master key of 32 bytes.."), time.Now()); err == nil {
			t.Fatal("a wrong master key opened the keyring")
		}
	})
}
