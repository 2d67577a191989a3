package filewatch

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// identity is what says "a different file" or "the same file, rewritten":
// for a file, its stat (and content hash); for a folder, its files'.
type identity struct {
	exists  bool
	dir     bool
	info    os.FileInfo
	hashed  bool // with Options.Content: sum is the content's hash
	sum     [sha256.Size]byte
	entries []entry // a folder's files, by name
}

type entry struct {
	name string
	id   identity
}

func (w *Watcher) statOf(path string) identity {
	fi, err := os.Stat(path)
	if err != nil {
		return identity{}
	}
	id := identity{exists: true, dir: fi.IsDir(), info: fi}
	if id.dir {
		des, err := os.ReadDir(path)
		if err != nil {
			return identity{exists: true, dir: true}
		}
		for _, de := range des { // sorted by name
			if w.opts.Subfolders && !strings.HasPrefix(de.Name(), ".") && IsFolder(path, de) {
				id.entries = append(id.entries, entry{de.Name(), identity{exists: true, dir: true}})
				continue
			}
			if !w.opts.Filter(de.Name()) {
				continue
			}
			eid := w.statOf(filepath.Join(path, de.Name()))
			if eid.exists && !eid.dir {
				id.entries = append(id.entries, entry{de.Name(), eid})
			}
		}
		return id
	}
	// Only a regular file is read, and never with a blocking open: a FIFO
	// would hang the watcher, and with it every later reload and Close.
	if w.opts.Content && fi.Mode().IsRegular() {
		if data, err := filesnap.ReadRegular(path, 0); err == nil {
			id.hashed, id.sum = true, sha256.Sum256(data)
		}
	}
	return id
}

// watchedFolder reports whether abs is one of the watched paths, a folder.
func (w *Watcher) watchedFolder(abs string) bool {
	return slices.ContainsFunc(w.files, func(f *file) bool { return f.abs == abs && len(f.dirs) > 1 })
}

// IsFolder reports whether de, an entry of the folder path, is a folder
// or a symbolic link to one, as a watch with Subfolders counts it.
func IsFolder(path string, de os.DirEntry) bool {
	if de.IsDir() {
		return true
	}
	if de.Type()&os.ModeSymlink == 0 {
		return false
	}
	fi, err := os.Stat(filepath.Join(path, de.Name()))
	return err == nil && fi.IsDir()
}

func (a identity) same(b identity) bool {
	if a.exists != b.exists || a.dir != b.dir {
		return false
	}
	if !a.exists {
		return true
	}
	if a.dir {
		return slices.EqualFunc(a.entries, b.entries, func(x, y entry) bool { return x.name == y.name && x.id.same(y.id) })
	}
	if a.hashed && b.hashed {
		return a.sum == b.sum
	}
	if a.hashed != b.hashed {
		// With Options.Content, read once and not the other time: a file
		// made readable again (a chmod, which changes neither inode, size
		// nor time) is tried at once, not after its backoff.
		return false
	}
	return filesnap.SameVersion(a.info, b.info)
}
