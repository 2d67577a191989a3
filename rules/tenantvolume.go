package rules

import (
	"errors"
	"path/filepath"
)

// A tenant's folder may be a volume of its own: mounted there, or the
// target of a link from the tenants folder. Unmounted, it leaves an empty
// mount point (or a link to nothing), which a reload would take for the
// tenant's overlay removed on purpose. What is here tells the two apart
// (docs/tenants.md, "When the tenants folder is gone").

// errTenantFolderOtherFS is a tenant's folder that was a volume of its
// own (a mount point, or a link to one) when its rule files were last
// read or written, found without rule files on another file system: the
// volume unmounted, leaving its mount point empty. Taken for the tenant's
// folder emptied on purpose, it would drop the tenant's overlay, its
// stricter rules with it, without a word; so it is a failure to read the
// overlay, which stays in force until rule files are back or the folder
// is removed. errTenantFolderDangling is the same for a tenant's folder
// that is a link to nothing (its target on a volume unmounted).
var (
	errTenantFolderOtherFS  = errors.New("no rule files, and the folder is no longer the volume its rule files were on (a volume unmounted?); the overlay stays until rule files are there again or the folder is removed")
	errTenantFolderDangling = errors.New("the folder is a link to nothing (its target on a volume unmounted?); the overlay stays until the link leads to rule files again or is removed")
)

// noteVolume records, when a tenant's rule files were read from or
// written to its folder, whether that folder is a volume of its own (the
// root of a mounted file system: on another device than its parent
// folder, links followed) and which: movedFS's evidence of an unmount.
// A bind mount of a folder of the same file system is not told apart.
func (m *Manager) noteVolume(tenant, dir string) {
	delete(m.tenantVolumes, tenant)
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return
	}
	dev, ok := m.deviceOf(real)
	parent, pok := m.deviceOf(filepath.Dir(real))
	if !ok || !pok || dev == parent {
		return
	}
	if m.tenantVolumes == nil {
		m.tenantVolumes = map[string]uint64{}
	}
	m.tenantVolumes[tenant] = dev
}

// movedFS reports whether a tenant's folder, a volume of its own when its
// rule files were last read or written, is now on another file system,
// while the tenant has an overlay in force.
func (m *Manager) movedFS(tenant, dir string) bool {
	was, ok := m.tenantVolumes[tenant]
	if !ok || m.Snapshot().Tenants[tenant] == nil {
		return false
	}
	dev, ok := m.deviceOf(dir)
	return ok && dev != was
}

// deviceOf is folderDevice, or the tests' stand-in.
func (m *Manager) deviceOf(dir string) (uint64, bool) {
	if m.folderDevice != nil {
		return m.folderDevice(dir)
	}
	return folderDevice(dir)
}
