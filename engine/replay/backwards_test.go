package replay

import (
	"io"
	"strings"
	"testing"
)

// TestBackwardsTimes: attempts dated more than a second before an earlier
// line's are counted, the first one's line kept for the warning; the
// milliseconds by which concurrent scorings are captured out of order are
// not.
func TestBackwardsTimes(t *testing.T) {
	line := func(ts string) string {
		return `{"time":"` + ts + `","user_id":"u","ip":"81.2.69.1","result":"password_bad"}` + "\n"
	}
	stream := "# a comment\n" +
		line("2026-03-02T10:00:00.500Z") +
		line("2026-03-02T10:00:00.200Z") + // jitter
		line("2026-03-02T10:05:00Z") +
		line("2026-03-02T09:00:00Z") + // line 5: back an hour
		line("2026-03-02T10:06:00Z") +
		line("2026-03-02T10:01:00Z")
	d := NewDecoder(strings.NewReader(stream))
	var ev Event
	for {
		if err := d.Next(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if d.Stats.Backwards != 2 || d.Stats.BackwardsLine != 5 {
		t.Errorf("backwards %d, first at line %d; want 2, line 5", d.Stats.Backwards, d.Stats.BackwardsLine)
	}
}
