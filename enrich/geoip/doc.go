// Package geoip locates login addresses with GeoIP databases in the MaxMind
// DB (.mmdb) format, as an engine.Enricher.
//
// Three roles, each taking one or more files:
//
//   - city: country, first subdivision, city, coordinates and the accuracy
//     radius, from MaxMind GeoIP2/GeoLite2 City (or Country, Enterprise) and
//     DB-IP's GeoIP2-compatible files, read with geoip2-golang; or from the
//     flat ip-location-db schema (country_code, state1, city, latitude,
//     longitude: the free DB-IP Lite files on npm) read with
//     maxminddb-golang. The schema is chosen from the file's metadata
//     (database_type), falling back to the keys of its first record for
//     types geoip2 does not know.
//   - ASN: number and organisation, from GeoLite2-ASN, GeoIP2-ISP,
//     DB-IP ASN Lite or ip-location-db's ASN files.
//   - anonymous-IP: VPN, Tor exit, public or residential proxy and hosting
//     flags, from GeoIP2-Anonymous-IP or GeoIP-Anonymous-Plus.
//
// Every file is opened at start-up, copied into a private memory-mapped
// snapshot (internal/filesnap), verified end to end and probed by decoding
// its first records, so that a missing, empty,
// truncated, corrupt or foreign file, or one given in the wrong role (an
// ASN file as the city database), is a start-up error naming the file and
// the problem, never a silent "unknown" for every login.
//
// With Options.Watch a file replaced on disk (geoipupdate writes a
// temporary file and renames it over the old one) is reopened, verified
// and swapped in atomically; lookups in flight finish on the old mapping,
// which is unmapped after the last of them. A replacement that fails to
// open keeps the old database, is logged and counted (Stats,
// Options.OnReload). Because the databases in use are private copies, a
// file rewritten or truncated in place (`cp new.mmdb City.mmdb`) cannot
// change or fault them: the rewrite is just another change, verified
// before it is swapped in.
//
// Lookups are cached per address in a sharded LRU; a reload invalidates it.
// A cached lookup does not allocate. A country-only fix carries no
// coordinates (see Result.setLocation), so distance and speed are only
// computed between real city- or region-level fixes.
package geoip
