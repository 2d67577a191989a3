// Package simulator simulates a login service's traffic, labelled, for measuring
// detection quality: `riskgate simulate` and benchmarks/quality use it.
//
// It writes the replay format (engine/replay): attempt lines with a label
// (legit, credential_stuffing, password_spray, account_takeover,
// impossible_travel, brute_force, or none for the warm-up history) and
// step_up_passes (true for the account owner, false for an attacker), and
// confirmed_fraud outcome lines that analysts file days after some
// successful attacks. Attempt ids start with the traffic's kind or attack
// variant ("ato_vpn-0001234"), which rules never see.
//
// It also writes the GeoIP2 City, ASN and Anonymous-IP databases (with
// enrich/geoip/geoipgen, i.e. mmdbwriter) that locate every simulated address,
// so a replay goes through riskgate's real GeoIP enrichment.
//
// The model, in files:
//
//   - world.go: real cities (coordinates, subdivisions, time zones with
//     their daylight-saving rules) and countries;
//   - isps.go, ipplan.go, geo.go: access ISPs, mobile carriers, data
//     centres and VPN providers by their real AS numbers, given address
//     blocks from the right registry's space, and the databases built
//     from them;
//   - shared.go: addresses many people share: offices behind NAT,
//     university campuses, carrier-grade NAT, the busy office;
//   - users.go, useragents.go: accounts with a home, a broadband line,
//     a carrier, perhaps an office, devices with real browser strings and
//     cookies, a password, habits;
//   - legit.go, travel.go: what users do day by day, trips included;
//   - stuffing.go, spray.go, takeover.go, bruteforce.go, attackers.go:
//     the attacks.
//
// docs/simulation.md says what each behaviour models and with which
// parameters. Everything is drawn from PCG streams derived from the seed,
// one per user and one per attack, and nothing depends on map order: the
// same Config gives the same bytes.
package simulator
