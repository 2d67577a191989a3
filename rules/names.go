package rules

// Rule ids, tags, notification kinds and tenants are short names of a
// few character classes. They are checked by hand rather than by regular
// expressions: a bounded repeat such as [a-z0-9_.-]{0,63} compiles to a
// program of 63 copies, and compiling the two that every ruleset needs
// was about 7% of compiling the default rules at a cold start, which is on
// the path from exec to ready. names_test.go holds each check to the
// expression it replaces.

// validName reports whether s is 1 to maxLen bytes, the first in first's
// class and the others in rest's. The classes are ASCII: a byte of a
// multi-byte character is in none of them, as the character would not be.
func validName(s string, maxLen int, first, rest func(c byte) bool) bool {
	if len(s) == 0 || len(s) > maxLen || !first(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !rest(s[i]) {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || 'A' <= c && c <= 'Z' || isDigit(c) }

// validID: a rule id or tag, ^[a-z0-9][a-z0-9_.-]{0,63}$.
func validID(s string) bool {
	return validName(s, 64,
		func(c byte) bool { return isLower(c) || isDigit(c) },
		func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' || c == '.' || c == '-' })
}

// validNotify: a notification kind, a word a program switches on and a
// template is named after, ^[a-z][a-z0-9_]{0,31}$.
func validNotify(s string) bool {
	return validName(s, 32, isLower, func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' })
}

// ValidTenant reports whether tenant may have an overlay (and a folder of
// its own under the tenants folder): the attempt's tenant field's
// characters, and not a hidden or relative path,
// ^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$.
func ValidTenant(tenant string) bool {
	return validName(tenant, 64,
		func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' },
		func(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' })
}

// validLabel: a ruleset's version: label, which goes into rules_version,
// the ETag and a metrics label, ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$: no
// space, so that no label can read as " + tenant:..." (an overlay's part
// of a version), no quote and no control character.
func validLabel(s string) bool {
	return validName(s, 64, isAlnum, func(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' })
}
