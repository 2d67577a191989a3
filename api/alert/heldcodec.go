package alert

import (
	"encoding/binary"
	"time"
)

// A held notification waits in a compact binary form: one allocation of
// bytes rather than a Notification with its two dozen strings and two
// slices. Up to NotifyHoldEntries of them (100,000 by default) are live
// at once, all of it memory the garbage collector would otherwise trace on
// every cycle: 100,000 held Notifications were half the objects of a busy
// node's heap, and their marking stretched each cycle's tail latency
// (benchmarks/README.md, "Morning of 2026-12-05").
//
// The form holds every field but those the key or the completion give:
// the schema (a constant), the notification id (the key it is held
// under) and how the login completed. Each string is a uvarint length
// and its bytes; the time is its Unix seconds (zig-zag varint) and
// nanoseconds (uvarint); a list is its uvarint length and its members.

// appendHeld appends n's held form to b.
func appendHeld(b []byte, n *Notification) []byte {
	b = appendHeldString(b, n.Tenant)
	b = appendHeldString(b, n.AttemptID)
	b = appendHeldString(b, n.DecisionID)
	b = binary.AppendVarint(b, n.Time.Unix())
	b = binary.AppendUvarint(b, uint64(n.Time.Nanosecond()))
	b = binary.AppendUvarint(b, uint64(len(n.Kinds)))
	for _, k := range n.Kinds {
		b = appendHeldString(b, k)
	}
	for _, f := range heldStrings(n) {
		b = appendHeldString(b, *f)
	}
	b = binary.AppendUvarint(b, uint64(len(n.Rules)))
	for i := range n.Rules {
		r := &n.Rules[i]
		b = appendHeldString(b, r.ID)
		b = appendHeldString(b, r.Kind)
		b = appendHeldString(b, r.Message)
	}
	return appendHeldString(b, n.RulesVersion)
}

// heldStrings are n's single string fields after its time and kinds, in
// the form's order: one list for writing and reading alike.
func heldStrings(n *Notification) [11]*string {
	return [...]*string{
		&n.User.ID, &n.User.Username, &n.User.UsernameHash,
		&n.Login.IP, &n.Login.Country, &n.Login.Subdivision, &n.Login.City,
		&n.Login.Browser, &n.Login.OS, &n.Login.DeviceType, &n.Login.Channel,
	}
}

func appendHeldString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// heldReader reads a held form. Its strings are slices of one string
// made of the whole form, so that a notification's fields cost one
// allocation together.
type heldReader struct {
	s   string
	bad bool
}

func (r *heldReader) uvarint() uint64 {
	var v uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 || i > 0 && c == 0 {
				break // overflows 64 bits, or not the shortest form
			}
			r.s = r.s[i+1:]
			return v | uint64(c)<<(7*i)
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	r.bad, r.s = true, ""
	return 0
}

// varint reads a zig-zag varint, as binary.AppendVarint writes it.
func (r *heldReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *heldReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.bad, r.s = true, ""
		return ""
	}
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

// count reads a list's length, no more than the bytes left could hold
// (each member takes one at least).
func (r *heldReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.bad, r.s = true, ""
		return 0
	}
	return int(n)
}

// decodeHeld returns the notification of a held form, its schema set and
// its id and completion left to the caller; false for a form that does
// not parse (which only a defect could make).
func decodeHeld(form []byte) (*Notification, bool) {
	r := heldReader{s: string(form)}
	n := &Notification{Schema: NotificationSchemaID}
	n.Tenant, n.AttemptID, n.DecisionID = r.str(), r.str(), r.str()
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= uint64(time.Second) {
		return nil, false
	}
	n.Time = time.Unix(sec, int64(nsec)).UTC()
	n.Kinds = make([]string, r.count())
	for i := range n.Kinds {
		n.Kinds[i] = r.str()
	}
	for _, f := range heldStrings(n) {
		*f = r.str()
	}
	n.Rules = make([]NotifyRule, r.count())
	for i := range n.Rules {
		n.Rules[i] = NotifyRule{ID: r.str(), Kind: r.str(), Message: r.str()}
	}
	n.RulesVersion = r.str()
	if r.bad || r.s != "" {
		return nil, false
	}
	return n, true
}

// heldUser reports whether a held form is of tenant's user: its tenant
// and user id, read as decodeHeld reads them, up to the user id.
// heldTenant is the tenant of a held form (its first string), nil if the
// form is cut short.
func heldTenant(form []byte) []byte {
	n, k := binary.Uvarint(form)
	if k <= 0 || n > uint64(len(form)-k) {
		return nil
	}
	return form[k : k+int(n)]
}

func heldUser(form []byte, tenant, user string) bool {
	r := heldReader{s: string(form)}
	if r.str() != tenant {
		return false
	}
	r.str() // attempt id
	r.str() // decision id
	r.varint()
	r.uvarint()
	for range r.count() {
		r.str()
	}
	return r.str() == user && !r.bad
}
