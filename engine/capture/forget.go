package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
)

// Forget erases a user's lines from every capture file (GDPR and CCPA
// erasure, beside engine.Engine.Forget): their attempts, the outcomes and
// labels of those attempts, and outcomes reported with an attempt of
// theirs, from the finished files and from the file being written, with
// everything observed before the call. It rewrites each finished file
// that holds the user (through a temporary file renamed into place, so a
// crash leaves either version). It searches the file being written
// beside the writer, and only when the user is there has the writer
// finish it (as a rotation does), then rewrites it as a finished file:
// an erasure of a user the file being written does not hold starts no
// file. A file a failed write left in progress (a full disk) is searched
// too, and finished without the user; Forget fails, naming it, while it
// cannot be. Files that do not hold the user are left as they are.
// Attempts that named the account only by a username that matched no
// account (no user_id) are not the user's and stay until retention
// deletes them. A finished file's damaged end (a last line cut short, a
// gzip stream cut short) is dropped whoever it names, and logged: it
// cannot be searched whole. A file being written that is damaged before
// its end is not rewritten: Forget fails, naming it. It searches every
// file before it rewrites any, and rewrites them newest first: an erasure
// that fails partway leaves the user's attempts in the earlier files, and
// a retry, finding them, erases the outcomes left that name them by
// attempt id only. It returns the number of the user's lines erased.
//
// Forget reads every file: on a large capture it takes as long as reading
// it. Scoring goes on meanwhile, and so does the writer, but for finishing
// the file being written when it holds the user; retention waits.
func (s *Sink) Forget(ctx context.Context, tenant, userID string) (int, error) {
	if userID == "" {
		return 0, &engine.FieldError{Field: "user_id", Msg: "required"}
	}
	key := s.UserKey(tenant, userID)
	s.files.Lock()
	defer s.files.Unlock()
	m := &userMatcher{needle: []byte(`"user_id":"` + key + `"`), key: key, attempts: map[string]struct{}{}}
	total := 0
	defer func() {
		s.removed.Add(uint64(total))
		s.retain() // sizes changed, even when an erasure failed partway
	}()
	var other []string // key ids of files this secret cannot search
	// The finished files first, oldest first, then the file being
	// written: an outcome names an attempt written before it, so the
	// matcher knows the user's attempts by the time it meets their
	// outcomes. A file finished meanwhile (rotated by size or age, by a
	// backtest's Finish, abandoned by a failed write) was not listed: the
	// next round searches it, and the file being written again, since
	// the attempts it holds may have outcomes there. The file Forget had
	// the writer finish is searched in the next round too, but calls for
	// no further one: the file written since holds only events observed
	// after the call. Searching a file again is harmless: it no longer
	// holds the user.
	//
	// Forget searches every file before it rewrites any, and then
	// rewrites them newest first: the user's outcomes and labels may name
	// their attempts by attempt id only, in files later than the attempts,
	// and only the attempt lines link them to the user. An erasure that
	// fails partway (a file it cannot rewrite, its context ended) has
	// rewritten only files later than those it left, which still hold the
	// user's attempts: the retry finds them, and through them the
	// outcomes left.
	searched := map[string]bool{}
	ours := map[string]bool{}
	var dirty []*found // files holding the user (or a damaged end)
	for round := 0; ; round++ {
		files, err := s.forgetFiles()
		if err != nil {
			return total, fmt.Errorf("capture: forget: %w", err)
		}
		fresh := 0
		for _, path := range files {
			if searched[path] {
				continue
			}
			if !ours[path] {
				fresh++
			}
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("capture: forget: %w", err)
			}
			f, foreign, err := s.searchIn(path, m)
			if err != nil {
				return total, err
			}
			if foreign != "" {
				other = append(other, foreign)
			}
			if f != nil {
				dirty = append(dirty, f)
			}
			searched[path] = true
		}
		if round > 0 && fresh == 0 {
			break
		}
		finished, err := s.forgetCurrent(ctx, m)
		if err != nil {
			return total, fmt.Errorf("capture: forget: %w", err)
		}
		if finished != "" {
			ours[finished] = true
			ours[strings.TrimSuffix(finished, replay.InProgressSuffix)] = true
		}
	}
	slices.SortFunc(dirty, func(a, b *found) int { return -compareFiles(a.path, b.path) })
	for _, f := range dirty {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("capture: forget: %w", err)
		}
		n, err := s.eraseIn(f, m)
		total += n
		if err != nil {
			return total, err
		}
	}
	if len(other) > 0 {
		slices.Sort(other)
		return total, fmt.Errorf("%w: %d file(s) of %s are keyed under key id %s, not this secret's %s, and cannot be searched for the user: move them out of the folder, or erase with the secret they were written with",
			ErrOtherSecret, len(other), s.opts.Dir, strings.Join(slices.Compact(other), ", "), s.keyID)
	}
	return total, nil
}

// compareFiles orders capture files by name, and so by time, a file left
// in progress among the finished ones as if it were finished.
func compareFiles(a, b string) int {
	return strings.Compare(strings.TrimSuffix(a, replay.InProgressSuffix), strings.TrimSuffix(b, replay.InProgressSuffix))
}

// forgetFiles lists the files Forget searches, in name (and so time)
// order: every file replay reads (replay.CaptureFiles), not only those
// named as the sink names them (a file copied in, capture-node2.jsonl, is
// read by a backtest, so it holds the user as much as any), and the files
// a failed write left in progress (abandoned).
func (s *Sink) forgetFiles() ([]string, error) {
	files, err := replay.CaptureFiles(s.opts.Dir)
	if err != nil {
		return nil, err
	}
	left, err := s.abandoned()
	if err != nil {
		return nil, err
	}
	files = append(files, left...)
	slices.SortFunc(files, compareFiles)
	return files, nil
}

// abandoned lists the capture files in progress that the writer is not
// writing (nor opening, nor finishing): those a failed write left when
// they could not be finished either (a full disk). Nothing writes them
// again; a restart would finish them. The file being written is read
// after the listing: a file listed that was being written then and is not
// any more has been finished (renamed away) or abandoned.
func (s *Sink) abandoned() ([]string, error) {
	left, err := filepath.Glob(filepath.Join(s.opts.Dir, filePrefix+"*"+replay.InProgressSuffix))
	if err != nil {
		return nil, err
	}
	cur := s.current.Load()
	return slices.DeleteFunc(left, func(p string) bool {
		return (cur != nil && p == *cur) || !isCaptureFile(filepath.Base(strings.TrimSuffix(p, replay.InProgressSuffix)))
	}), nil
}

// found is a file Forget's search found holding the user, or with a
// damaged end: it is to be rewritten.
type found struct {
	path string
	dmg  damage
	// cutNamesUser: the damaged end is a line of the user's, cut short.
	cutNamesUser bool
}

// searchIn searches a finished file for the user, noting the attempt ids
// of theirs it holds, without changing it. It returns the file when it is
// to be rewritten (it holds the user, or a damaged end), or the key id of
// the file's header when it is another secret's (the file is then left as
// it is).
func (s *Sink) searchIn(path string, m *userMatcher) (*found, string, error) {
	hits, first, foreign := 0, true, ""
	dmg, err := scanLines(path, func(line []byte) error {
		if first {
			first = false
			if id := headerKeyID(line); id != "" && id != s.keyID {
				foreign = id
				return errStop
			}
		}
		if m.match(line) {
			hits++
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil // deleted meanwhile (a file copied in, moved out)
	}
	if err != nil && !errors.Is(err, errStop) {
		return nil, "", err
	}
	if foreign != "" {
		return nil, foreign, nil
	}
	// A damaged end (a last line cut short by a crash or a full disk, a
	// compressed stream cut short) cannot be searched: it may hold the
	// user's key, whole or in part, and no replay can read it. The file
	// is rewritten without it, whoever it names, so that no erasure is
	// reported done over bytes it could not search.
	cutNamesUser := len(dmg.tail) > 0 && m.matchCut(dmg.tail)
	if hits == 0 && !dmg.damaged() {
		return nil, "", nil
	}
	return &found{path: path, dmg: dmg, cutNamesUser: cutNamesUser}, "", nil
}

// eraseIn rewrites a file searchIn found without the user's lines (and
// without its damaged end), and returns how many it erased. A file a
// failed write abandoned in progress is finished under its final name, as
// a restart would finish it, and deleted once that is durable.
func (s *Sink) eraseIn(f *found, m *userMatcher) (int, error) {
	path, dmg := f.path, f.dmg
	dst, abandoned := strings.CutSuffix(path, replay.InProgressSuffix)
	n, kept := 0, 0
	err := s.hookRewrite(path)
	if err == nil {
		err = rewrite(path, dst, func(line []byte) bool {
			if m.match(line) {
				n++
				return false
			}
			kept++
			return true
		})
	}
	if err != nil {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			return 0, nil // deleted since the search (a file copied in, moved out)
		}
	}
	if err == nil && abandoned {
		err = removeDurably(path)
	}
	if err != nil {
		if abandoned {
			return 0, fmt.Errorf("capture: forget: %s, left in progress by a failed write, holds the user or a damaged end, and could not be finished without them (free space on the disk, and retry): %w", filepath.Base(path), err)
		}
		return 0, err
	}
	if dmg.damaged() {
		if f.cutNamesUser {
			n++
		}
		switch {
		case abandoned && dmg.unfinished():
			s.log.Info("capture: forget: finished a capture file a failed write left in progress, cut at its last whole line", append([]any{"path", path}, dmg.logAttrs()...)...)
		default:
			s.log.Warn("capture: forget: dropped the damaged end of a capture file: it could not be searched for the user, and cannot be replayed",
				append([]any{"path", path}, dmg.logAttrs()...)...)
		}
		if kept == 0 { // not even a header could be read
			if err := removeDurably(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
				return n, fmt.Errorf("capture: forget: %w", err)
			}
		}
	}
	return n, nil
}

// removeDurably deletes a file, and syncs its folder: a file holding a
// user's lines does not come back after a power cut.
func removeDurably(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// forgetCurrent searches the file being written for the user, after the
// writer has written every event queued before the call: its flushed part,
// which the writer only appends to, beside the writer. When the user is
// there, the writer finishes the file (flushes, closes and renames it, as
// a rotation does: little work whatever the file's size), and
// forgetCurrent returns its name for Forget to rewrite it, outside the
// writer, as a finished file. Copying it in the writer paused it for the
// whole copy (seconds for a large file), events queuing and then dropped.
// A file the user is not in is left as it is: the erasure neither
// finishes it nor pauses the writer.
func (s *Sink) forgetCurrent(ctx context.Context, m *userMatcher) (string, error) {
	cur, err := s.ask(ctx, control{op: opFlush})
	if err != nil || cur.path == "" {
		return "", err
	}
	hits := 0
	dmg, err := scanPrefix(cur.path, cur.size, func(line []byte) error {
		if m.match(line) {
			hits++
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return "", nil // finished meanwhile: Forget searches it among the finished files
	}
	if err != nil {
		return "", err
	}
	// Flushed, the file holds whole lines (a compressed one has no end
	// yet, which is no damage). Anything else is damage on disk: what
	// follows it cannot be searched, nor rewritten, and the writer would
	// go on appending to it.
	if len(dmg.tail) > 0 || (dmg.err != nil && !dmg.unfinished()) {
		return "", fmt.Errorf("the capture file being written, %s, is damaged before its end and cannot be searched for the user (%s): it is left as it is; once it is rotated, Forget drops its damaged end",
			filepath.Base(cur.path), dmg.logAttrs()[1])
	}
	if hits == 0 {
		return "", nil
	}
	rep, err := s.ask(ctx, control{op: opFinish, path: cur.path})
	if err != nil {
		return "", err
	}
	return cur.path, rep.err
}

// ask has the writer serve a request, after every event queued before
// it. A closed sink has no file being written: it answers nothing.
func (s *Sink) ask(ctx context.Context, req control) (controlReply, error) {
	req.reply = make(chan controlReply, 1)
	select {
	case s.control <- req:
		select {
		case rep := <-req.reply:
			return rep, nil
		case <-ctx.Done():
			return controlReply{}, ctx.Err()
		}
	case <-s.done: // closed: every file is finished
		return controlReply{}, nil
	case <-ctx.Done():
		return controlReply{}, ctx.Err()
	}
}

// ErrOtherSecret is Forget's error when the capture folder holds files
// keyed under another secret (a secret rotated, a folder shared): the
// user's lines in them, if any, are keyed with a key this sink does not
// have, so the erasure could not be complete.
var ErrOtherSecret = errors.New("capture: forget: incomplete")

// errStop ends a pass over a file early.
var errStop = errors.New("stop")

// headerKeyID is the key id of a capture file's header line, or "" when
// the line is no header.
func headerKeyID(line []byte) string {
	if h := headerOf(line); h != nil {
		return h.KeyID
	}
	return ""
}

// headerOf is the capture header a line holds, or nil when it is none.
func headerOf(line []byte) *replay.Header {
	if !bytes.HasPrefix(line, []byte(`{"capture":`)) {
		return nil
	}
	var h struct {
		Capture *replay.Header `json:"capture"`
	}
	if json.Unmarshal(line, &h) != nil {
		return nil
	}
	return h.Capture
}

// Finish writes every event observed before the call and finishes the
// current file, so that readers of the folder (replay, backtest) see
// them. The next event opens a new file. After Close it does nothing.
func (s *Sink) Finish(ctx context.Context) error {
	rep, err := s.ask(ctx, control{op: opFinish})
	if err != nil {
		return err
	}
	return rep.err
}

// userMatcher recognises a user's lines: attempts carrying the user's
// key, outcomes reported with such an attempt, and outcomes naming an
// attempt already matched (they follow it, in the same file or a later
// one).
type userMatcher struct {
	needle   []byte
	key      string
	attempts map[string]struct{} // attempt ids of the user's attempts
}

var (
	outcomePrefix = []byte(`{"outcome":`)
	lineEnd       = []byte("}\n") // of every whole line
)

func (m *userMatcher) match(line []byte) bool {
	if !bytes.HasSuffix(line, lineEnd) {
		// Cut short, and yet ended by a newline (damaged on disk): it
		// may hold only part of the user's key.
		return m.matchCut(bytes.TrimSuffix(line, lineEnd[1:]))
	}
	if bytes.Contains(line, m.needle) {
		var ln replay.Line
		if json.Unmarshal(line, &ln) != nil {
			// Damaged on disk: it holds the user's key, and no replay
			// can read it.
			return m.matchCut(line)
		}
		switch {
		case ln.Outcome != nil:
			return ln.Outcome.Attempt != nil && ln.Outcome.Attempt.UserID == m.key
		case ln.UserID == m.key:
			if ln.AttemptID != "" {
				m.attempts[ln.AttemptID] = struct{}{}
			}
			return true
		}
		return false
	}
	if len(m.attempts) > 0 && bytes.HasPrefix(line, outcomePrefix) {
		var o struct {
			Outcome struct {
				AttemptID string `json:"attempt_id"`
			} `json:"outcome"`
		}
		if json.Unmarshal(line, &o) == nil && o.Outcome.AttemptID != "" {
			_, ok := m.attempts[o.Outcome.AttemptID]
			return ok
		}
	}
	return false
}

// userField opens the user id of an attempt line (or of an outcome's
// attempt).
var userField = []byte(`"user_id":"`)

// matchCut says whether a line cut short is the user's: it holds their
// key, or ends inside a user_id that begins as theirs does (a prefix of a
// keyed hash still singles them out), or it is an outcome of an attempt
// of theirs. The cut line of their attempt, if it got as far as its
// attempt_id (written before user_id), still names that attempt for its
// outcomes, in this file or a later one, which are erased with it.
func (m *userMatcher) matchCut(line []byte) bool {
	names := bytes.Contains(line, m.needle)
	if !names {
		if i := bytes.LastIndex(line, userField); i >= 0 {
			rest := line[i+len(userField):]
			names = len(rest) > 0 && strings.HasPrefix(m.key, string(rest))
		}
	}
	id := cutAttemptID(line)
	if bytes.HasPrefix(line, outcomePrefix) {
		// An outcome with an attempt names the user (its attempt has no
		// id); one naming an attempt names theirs, or another's.
		if !names && id != "" {
			_, names = m.attempts[id]
		}
		return names
	}
	if names && id != "" {
		m.attempts[id] = struct{}{}
	}
	return names
}

// cutAttemptID is the first attempt_id of a line, if the line holds it
// whole: an attempt's own id, or the attempt an outcome names.
func cutAttemptID(line []byte) string {
	_, rest, ok := bytes.Cut(line, []byte(`"attempt_id":"`))
	if !ok {
		return ""
	}
	id, _, ok := bytes.Cut(rest, []byte(`"`))
	if !ok {
		return ""
	}
	return string(id)
}
