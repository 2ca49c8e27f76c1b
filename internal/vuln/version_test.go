package vuln

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.0.0", 0},
		{"1.0.0", "1", 0},
		{"V1.2", "v1.2", 0},
		{"1.2", "1.10", -1},
		{"1.0.1", "1.0", 1},
		{"1.0.0.1", "1.0", 1},
		{"10.0.19045.3570", "10.0.19045.3693", -1},
		{"10.0.22631.3155", "10.0.19045.9999", 1},
		{"7.2.4", "7.2.4-build1396", -1},
		{"7.2.4-build1396", "7.2.4-build1517", -1},
		{"7.2.4-build1517", "7.2.5", -1},
		{"15.2(4)E10", "15.2(4)E9", 1},
		{"15.2(4)E10", "15.2(5)E1", -1},
		{"6.4.12a", "6.4.12", 1},
		{"6.4.12a", "6.4.13", -1},
		{"1.0a", "1.0.1", -1},
		{"1.1.1w", "1.1.1k", 1},
		{"2.0.0-rc1", "2.0.0", -1},
		{"2.0-rc1", "2.0", -1},
		{"2.0-rc2", "2.0-rc1", 1},
		{"2.0-beta", "2.0-rc1", -1},
		{"2.0-alpha", "2.0-beta", -1},
		{"2.0.1", "2.0-rc1", 1},
		{"1.0-dev", "0.9", 1},
		{"DSM 7.2-64570 Update 3", "DSM 7.2-64570 Update 1", 1},
		{"7.2.1-69057", "7.2-64570", 1},
		{"99999999999999999999999", "1", 1},
		{"", "0", 0},
		{"", "1", -1},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := CompareVersions(c.b, c.a); got != -c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

// FuzzCompareVersions checks that the comparison is a total order on whatever it is given:
// reflexive, antisymmetric and transitive.
func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][3]string{{"1.0", "1.0.0a", "1.0.0.5"}, {"2.0-rc1", "2.0", "2.0.0.0.1"}, {"1.0", "1.0.0rc", "1.0a"},
		{"15.2(4)E10", "15.2(4)e", "15.2.4"}, {"", "0", "a"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if CompareVersions(a, a) != 0 {
			t.Fatalf("%q != itself", a)
		}
		ab, bc, ac := CompareVersions(a, b), CompareVersions(b, c), CompareVersions(a, c)
		if CompareVersions(b, a) != -ab {
			t.Fatalf("not antisymmetric: %q %q", a, b)
		}
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("not transitive: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
		if ab >= 0 && bc >= 0 && ac < 0 {
			t.Fatalf("not transitive: %q >= %q >= %q but %q < %q", a, b, c, a, c)
		}
	})
}
