package rules

import (
	"testing"
)

func TestDefaultCompiles(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatalf("default rules: %v", err)
	}
	if len(s.Rules()) < 10 {
		t.Errorf("only %d default rules", len(s.Rules()))
	}
}
