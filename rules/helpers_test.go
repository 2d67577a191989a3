package rules

import "os"

func readRepoFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// successGauge is riskgate_rules_last_reload_success as m reports it.
func successGauge(m *Manager) float64 {
	if m.LoadStats().Healthy {
		return 1
	}
	return 0
}
