package rules

// setBeforeTenantRead sets the hook readTenants calls before it reads a
// tenant's folder of its listing (nil: none), under the Manager's lock,
// which a watch's reloads hold.
func (m *Manager) setBeforeTenantRead(f func(tenant string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beforeTenantRead = f
}
