package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/riskgate/riskgate/rules"
)

// checkTenants compiles every tenant overlay of dir (DIR/TENANT/*.yaml, as
// serve's --rules-tenants reads them) on the shared set, so that an
// overlay that would fail a server's start fails the check first (one
// that disables or replaces a rule the shared set locks too). An overlay
// that disables a rule the shared set lacks is a warning, as the server
// logs it. It reports to out and errs.
func checkTenants(dir string, shared *rules.Set, out, errs io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("rules check: tenants: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	bad, found := 0, 0
	for _, e := range entries {
		if rules.StrayTenantFile(e) {
			fmt.Fprintf(errs, "warning: %s: a rule file directly in the tenants folder, which no tenant reads: a tenant's overlay is %s\n", filepath.Join(dir, e.Name()), filepath.Join(dir, "<tenant>", "*.yaml"))
			continue
		}
		if !rules.TenantFolder(dir, e) || e.Name()[0] == '.' {
			continue
		}
		tenant := e.Name()
		if !rules.ValidTenant(tenant) {
			fmt.Fprintf(errs, "warning: %s: not a tenant name (1-64 letters, digits, '-', '_' or '.'): the server skips it\n", filepath.Join(dir, tenant))
			continue
		}
		srcs, err := rules.LoadFiles(filepath.Join(dir, tenant))
		if err != nil {
			// The server skips a folder without rule files, too.
			fmt.Fprintf(errs, "warning: tenant %s: %v\n", tenant, err)
			continue
		}
		found++
		o, err := rules.CompileOverlay(tenant, srcs...)
		if err == nil {
			if locked := o.Locked(shared); locked != nil {
				err = locked // the server refuses it as it refuses a compile error
			}
		}
		if err != nil {
			fmt.Fprintln(errs, err)
			bad++
			continue
		}
		for _, p := range o.Check(shared) {
			fmt.Fprintf(errs, "warning: %v\n", p)
		}
		set := rules.Compose(shared, o)
		th := set.Thresholds()
		fmt.Fprintf(out, "OK: tenant %s: %d rules in %d file(s), version %s, step_up at %d, deny at %d\n", tenant, len(set.Rules()), len(srcs), set.Version(), th.StepUp, th.Deny)
		own := map[string]bool{} // the shared rules' are warned of above
		for _, r := range o.Rules() {
			own[r.ID] = true
		}
		rules.WriteFailing(out, "tenant "+tenant+": ", set.FailingOnEmpty(), own)
	}
	if bad > 0 {
		return fmt.Errorf("rules check: %d tenant overlay(s) rejected", bad)
	}
	if found == 0 {
		// Say so: an OK that checked nothing passes a CI job that meant
		// to check every overlay.
		fmt.Fprintf(out, "no tenant overlays in %s (%s)\n", dir, filepath.Join(dir, "<tenant>", "*.yaml"))
	}
	return nil
}
