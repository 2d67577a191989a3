// Package filewatch tells when data files are replaced or rewritten, so that
// everything riskgate loads from files (rules, GeoIP databases, IP lists,
// the breached-password filter) reloads without a restart, through this one
// mechanism.
//
// Updaters such as geoipupdate write a temporary file and rename it over the
// old one, so watching the file itself would lose track of it after the
// first update: the watcher watches each file's directory with fsnotify and
// compares the file's identity (inode, size, modification time) on every
// event in that directory. Symbolic-link swaps (Kubernetes ConfigMaps)
// change no event for the file's own name, which is why any event in the
// directory triggers a check. A periodic stat catches what notifications
// miss (network file systems, exhausted inotify watches).
//
// A watched path may be a folder: its identity is then that of the files in
// it (those Options.Filter accepts), so a file added, removed, replaced or
// rewritten there is a change of the folder. With Options.Content a file's
// identity includes a hash of its content, for small files whose rewrite
// may keep their size and modification time (two saves within the file
// system's timestamp granularity): the content alone is then the identity,
// and a touch is no change.
//
// A path is "changed" until its callback succeeds on it: the identity last
// seen is that of the version last loaded, so a version that failed to load
// (unreadable, say, until a chmod that changes neither inode, size nor
// modification time; or the snapshot folder full) is tried again without
// any change to the file. The retries of one unchanged version back off,
// from a second to RetryMax (five minutes by default), doubling after each
// failure; they happen at the first poll, or the first event in the
// file's folder, after that delay. Each retry is a load like another: its
// failure is logged and counted by the callback's owner, so a version that
// stays bad costs one attempt, one log line and one failure counted every
// RetryMax once the backoff has grown. A new version is tried at once.
//
// A failed load may be the path's moment rather than its version's: a
// folder moved away, unmounted or swapped for another while it was read.
// Notifications do not tell all of that (fsnotify drops the watch of a
// folder that is moved or removed; a mount or an unmount raises no event),
// and the identity may not show it either (a folder moved away and back,
// or a volume remounted, reads as the same files). So, until its load
// succeeds again, a failing path is checked at every Debounce, events or
// not; one found gone after its failed load, or while it fails, is tried
// at once when it is back, whatever it is then; one whose folder (or
// itself, a folder) an event created, removed or renamed is tried at once,
// not after its backoff; and a failing folder back to the identity of the
// version loaded is loaded again, since its owner's failure is cleared by
// a load alone. A folder that lost its watch (moved, removed, unmounted,
// or missing at New) is watched again once it exists, and checked as if
// it had had events; until then it is checked at every Debounce, so that
// a folder removed and made again, or moved away and another moved in its
// place, is seen at once rather than at the next poll. (A link to the
// folder swapped for a link to another raises no event the watch sees:
// the poll finds it. Watching the folder above would see it, at the cost
// of that folder's events and of an inotify watch each.)
//
// A loaded path that disappears is by default only logged: its owner
// keeps the version it has. With Options.ReportGone it is a load that
// fails (the callback is called, and cannot read it), retried with the
// backoff like any failing version and tried at once when something is
// back: its owner's failure counter and gauge then say what a restart
// would find, rather than all being well until the restart fails.
//
// A failing file back to the identity of the version loaded (a bad edit
// reverted, a bad database replaced by the one in use) is, by default,
// not loaded again: it is the version its owner has, and a load may be
// costly (a GeoIP database of tens of megabytes, verified; a
// breached-password filter of gigabytes) for owners whose failures are
// counters, which a revert leaves true. It is no longer failing: no
// retry, no check at every Debounce, and the log says so after the
// owner's log of the failure; Options.Reverted tells the owner. An owner
// that keeps a failure state which only a load clears (the rules'
// last-reload-success gauge) sets Options.ReloadReverted: such a file is
// then loaded again, as a folder is, and the load clears it.
//
// The owner may load a path on other occasions than the callback (a
// reload on SIGHUP; a callback's load for one path that reads others
// too), and a failure then is one the watch never saw: back to the
// version loaded (a bad edit reverted before the watch looked at it),
// or never changed for it (a file made unreadable, then readable, which
// changes neither inode, size nor modification time), the path is no
// change, and the failure its owner reports would stay until some other
// edit. Failed tells the watcher of such a failure: the path is then
// failing as if its callback had failed on the version there now. When
// that version is the one loaded (the file unreadable for a moment, its
// snapshot folder gone: nothing its identity shows), it is retried with
// the backoff, not taken for a revert.
package filewatch
