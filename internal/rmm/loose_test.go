package rmm

import (
	"encoding/json"
	"testing"
)

func TestLooseString(t *testing.T) {
	cases := map[string]string{`"  abc "`: "abc", `1187`: "1187", `1187.0`: "1187", `-3`: "-3", `1.5`: "1.5", `1e3`: "1000",
		`null`: "", `true`: "", `{"a":1}`: "", `[1,2]`: "", `""`: ""}
	for in, want := range cases {
		var v struct{ X LooseString }
		if err := json.Unmarshal([]byte(`{"X":`+in+`}`), &v); err != nil || string(v.X) != want {
			t.Errorf("%s: %q %v, want %q", in, v.X, err, want)
		}
	}
}

func TestDecodeLoose(t *testing.T) {
	var v struct {
		A string
		B int
		C []string
	}
	if err := DecodeLoose([]byte(`{"A":5,"B":7,"C":"x"}`), &v); err != nil || v.A != "" || v.B != 7 || v.C != nil {
		t.Errorf("%+v %v", v, err)
	}
	if err := DecodeLoose([]byte(`{"A":`), &v); err == nil {
		t.Error("malformed JSON accepted")
	}
}
