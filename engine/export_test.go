package engine

// FingerprintBeforeTheMark is the fingerprint a node of the version
// before the before_password mark puts in front of the record it keeps
// for a's decision (Decided.Record), whether a is marked or not, and the
// key of a's attempt id. It is frozen here: such nodes share a store
// with this version's through a rolling upgrade, and read what this
// version keeps.
func FingerprintBeforeTheMark(e *Engine, a Attempt) (fp [8]byte, attemptID Key, err error) {
	var n normalized
	if err := n.normalize(&a, e.opts.Now(), e.opts.MaxClockSkew); err != nil {
		return fp, Key{}, err
	}
	b := []byte("\x01fingerprint")
	for _, s := range [...]string{a.UserID, n.username, a.IP, a.DeviceID, a.UserAgent, a.PasswordSHA1, a.Channel} {
		b = append(b, 0)
		b = append(b, s...)
	}
	b = append(b, 0, byte(a.Result))
	k := e.opts.Keyer.key(domainAttempt, n.tenant, "", b)
	copy(fp[:], k[:])
	return fp, e.opts.Keyer.Attempt(n.tenant, a.AttemptID), nil
}

// LiveHeap is liveHeap, for the flood tests outside the package.
var LiveHeap = liveHeap
