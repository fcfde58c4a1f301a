package sqltext

import "testing"

func TestContains(t *testing.T) {
	for in, want := range map[string]string{
		"alice":   "%alice%",
		"50%_off": `%50\%\_off%`,
		`a\b`:     `%a\\b%`,
		"":        "%%",
	} {
		if got := Contains(in); got != want {
			t.Errorf("Contains(%q) = %q, want %q", in, got, want)
		}
	}
}
