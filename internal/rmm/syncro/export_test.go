package syncro

import (
	"encoding/json"
	"time"

	"clientst0r/internal/rmm"
)

// ToDevice exposes the asset mapping to table and fuzz tests.
func ToDevice(raw []byte, now time.Time) (rmm.Device, error) {
	return toDevice(json.RawMessage(raw), now)
}

// ParseAgent exposes the agent-data parser (kabuto_information or rmm_store.general.info) to the
// fuzz test: whether it found anything, and the LAN IP and MACs it chose.
func ParseAgent(raw []byte) (ok bool, lanIP string, macs []string) {
	a, ok := parseAgent(json.RawMessage(raw))
	return ok, a.lanIP, a.macs
}
