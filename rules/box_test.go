package rules

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/riskgate/riskgate/engine"
)

// fastCases are expressions the fast path must evaluate exactly as the VM
// does: every operator and operand kind it implements, mixed int and float
// operands, constants the optimizer folds, and membership in fields and
// constant arrays.
var fastCases = []string{
	`ip.failures_10m >= 10 && ip.usernames_10m >= 5`,
	`account.failures_24h >= 10 || account.failures_7d >= 25`,
	`!device.known && (attempt.failed || user.known)`,
	`not device.known and (attempt.failed or user.known)`,
	`tenant.failure_rate_10m >= 0.4 && tenant.failures_10m >= 20`,
	`tenant.failure_surge >= 3`,
	`geo.hours_since_last < 2 && geo.previous_country != ""`,
	`geo.speed_kmh > 900.5 || geo.distance_km == 0`,
	`"allow" in ip.lists`,
	`!("deny" in ip.lists)`,
	`"deny" not in ip.lists`,
	`attempt.channel in ["api", "mobile"]`,
	`attempt.channel not in ["api", "mobile"]`,
	`geo.country in ["FR", "DE", "XX"] && asn.number in [3215, 0]`,
	`device.bot && attempt.channel != "api"`,
	`attempt.channel < "m" || attempt.channel >= "web"`,
	`ip.failures_10m + ip.failures_1h * 2 - 1 > 7`,
	`ip.failures_1h / 2 >= 1.5`,
	`ip.failures_10m / ip.usernames_10m > 0.5`,
	`tenant.failure_rate_10m * 100 > ip.failures_10m`,
	`-ip.failures_10m < -3 && +tenant.failure_surge > 0`,
	`geo.lat == 48.85 || geo.lat != geo.lon`,
	`ip.failures_10m == tenant.failure_rate_24h`,
	`user.known == device.known && user.hour_unusual != geo.new_country`,
	`1 + 2 > ip.failures_10m`,
	`ip.version == 6 || ip.class == "private"`,
	`true && user.known`,
	`ip.failures_24h <= 3 && ip.failures_24h > 1 && ip.failures_24h != 2`,
	`rba.available && rba.score > 2.5`,
	`attempt.hour >= 22 || attempt.hour <= 5 || attempt.weekday == 0`,
	// Chains, flattened on the fast path (chain): each length, mixed,
	// nested in parentheses both sides, and with a constant operand.
	`user.known && device.known && ip.shared && !geo.new_country && attempt.failed`,
	`user.known || device.known || ip.shared || geo.new_country || attempt.failed || asn.new`,
	`(user.known && device.known) && (ip.shared && attempt.failed)`,
	`(user.known || device.known) || (ip.shared || attempt.failed) || geo.new_country`,
	`user.known && (device.known || ip.shared || asn.new) && !attempt.failed && ip.failures_10m > 1`,
	`user.known || device.known && ip.shared || asn.new && attempt.failed`,
	`false || user.known || false`,
	`user.known && true && device.known`,
	`ip.failures_10m in 1..5`, // the optimizer makes it two comparisons
}

// randomEnv fills the fields rules compare with values drawn from small
// domains, so that comparisons land on both sides of their constants and
// on equality.
func randomEnv(r *rand.Rand) engine.Env {
	var env engine.Env
	ints := []int{0, 1, 2, 3, 5, 6, 9, 10, 15, 20, 25, 30, 3215, -4}
	floats := []float64{0, 0.25, 0.4, 0.5, 1, 1.5, 2, 2.5, 3, 48.85, 900.5, 1200, math.Inf(1), math.NaN()}
	strs := []string{"", "api", "mobile", "web", "FR", "DE", "private", "public", "m"}
	lists := [][]string{nil, {"allow"}, {"deny"}, {"corp", "allow"}, {"deny", "allow"}}
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					fill(v.Field(i))
				}
			}
		case reflect.Bool:
			v.SetBool(r.IntN(2) == 0)
		case reflect.Int:
			v.SetInt(int64(ints[r.IntN(len(ints))]))
		case reflect.Float64:
			v.SetFloat(floats[r.IntN(len(floats))])
		case reflect.String:
			v.SetString(strs[r.IntN(len(strs))])
		case reflect.Slice:
			if v.Type() == reflect.TypeFor[[]string]() {
				v.Set(reflect.ValueOf(lists[r.IntN(len(lists))]))
			}
		}
	}
	fill(reflect.ValueOf(&env).Elem())
	return env
}

func compileWhen(t testing.TB, src string) *vm.Program {
	t.Helper()
	p, err := expr.Compile(src, exprOptions(expr.AsBool())...)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return p
}

func vmResult(t testing.TB, p *vm.Program, env *engine.Env) bool {
	t.Helper()
	out, err := vm.Run(p, envValue(env))
	if err != nil {
		t.Fatalf("vm: %v", err)
	}
	b, _ := out.(bool)
	return b
}

func TestFastMatchesVM(t *testing.T) {
	srcs := append([]string(nil), fastCases...)
	set, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Rules() {
		srcs = append(srcs, r.When)
	}
	r := rand.New(rand.NewPCG(1, 2))
	envs := make([]engine.Env, 3000)
	for i := range envs {
		envs[i] = randomEnv(r)
	}
	for _, src := range srcs {
		p := compileWhen(t, src)
		fast := compileFast(p.Node())
		if fast == nil {
			t.Errorf("%s: not on the fast path", src)
			continue
		}
		trues := 0
		for i := range envs {
			want := vmResult(t, p, &envs[i])
			if got := fast(&envs[i]); got != want {
				t.Fatalf("%s: fast %v, vm %v on %+v", src, got, want, envs[i])
			}
			if want {
				trues++
			}
		}
		if trues == 0 || trues == len(envs) {
			t.Logf("%s: %d of %d true: the environments do not exercise it both ways", src, trues, len(envs))
		}
	}
}

// TestSlowPathKept: what the fast path does not implement stays on the VM
// rather than being approximated.
func TestSlowPathKept(t *testing.T) {
	for _, src := range []string{
		`attempt.attributes["app"] == "web"`,
		`len(ip.lists) > 1`,
		`ip.failures_10m % 2 == 0`,
		`ip.failures_10m ** 2 > 4`,
		`any(ip.lists, # == "allow")`,
		`let x = ip.failures_10m; x > 3`,
		`user.known ? ip.failures_10m > 3 : ip.failures_10m > 9`,
		`attempt.username matches "^adm"`,
		`attempt.username startsWith "adm"`,
	} {
		if compileFast(compileWhen(t, src).Node()) != nil {
			t.Errorf("%s: compiled to the fast path, which does not implement it", src)
		}
	}
}

// TestDefaultRulesAreFast: the default rules are what every deployment
// evaluates on every Score; each one left on the VM costs about ten times
// as much.
func TestDefaultRulesAreFast(t *testing.T) {
	set, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Rules() {
		if r.fast == nil {
			t.Errorf("default rule %s is evaluated on the VM: %s", r.ID, r.When)
		}
	}
}

// TestEnvFieldsCoverTheReference: every scalar field of the environment
// is reachable by the fast path at the offset reflect gives it.
func TestEnvFieldsCoverTheReference(t *testing.T) {
	env := randomEnv(rand.New(rand.NewPCG(3, 4)))
	for path, f := range envFields {
		p := compileWhen(t, path+` == `+path)
		if compileFast(p.Node()) == nil && f.kind != reflect.Slice {
			t.Errorf("%s: not compiled", path)
		}
		got := reflect.NewAt(kindType(f.kind), unsafe.Add(unsafe.Pointer(&env), f.off)).Elem().Interface()
		vmv, err := expr.Eval(path, env)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !reflect.DeepEqual(got, vmv) && !(f.kind == reflect.Float64 && math.IsNaN(got.(float64))) {
			t.Errorf("%s: field at offset %d is %v, expr reads %v", path, f.off, got, vmv)
		}
	}
	if len(envFields) < 80 {
		t.Errorf("only %d fields found", len(envFields))
	}
}

func kindType(k reflect.Kind) reflect.Type {
	switch k {
	case reflect.Bool:
		return reflect.TypeFor[bool]()
	case reflect.Int:
		return reflect.TypeFor[int]()
	case reflect.Float64:
		return reflect.TypeFor[float64]()
	case reflect.String:
		return reflect.TypeFor[string]()
	}
	return reflect.TypeFor[[]string]()
}

// FuzzFastMatchesVM looks for an expression the fast path evaluates
// differently from the VM.
func FuzzFastMatchesVM(f *testing.F) {
	for i, src := range fastCases {
		f.Add(src, uint64(i))
	}
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		p, err := expr.Compile(src, exprOptions(expr.AsBool())...)
		if err != nil {
			return
		}
		fast := compileFast(p.Node())
		if fast == nil {
			return
		}
		r := rand.New(rand.NewPCG(seed, 1))
		for range 50 {
			env := randomEnv(r)
			out, err := vm.Run(p, envValue(&env))
			if err != nil {
				t.Fatalf("%s: the fast path compiled an expression the VM fails on: %v", src, err)
			}
			want, _ := out.(bool)
			if got := fast(&env); got != want {
				t.Fatalf("%s: fast %v, vm %v", src, got, want)
			}
		}
	})
}

// ordinaryEnv is what the rules see for a user's ordinary login: nothing
// new, no attack windows filled.
func ordinaryEnv() engine.Env {
	env := engine.Env{
		Attempt: engine.AttemptEnv{Tenant: "default", Username: "alice@example.com", IP: "81.2.69.160", Channel: "web", Result: "password_ok", Hour: 9, Weekday: 2},
		User:    engine.UserEnv{Known: true, Logins: 40, AgeDays: 200, HoursLearned: true, HourShare: 0.4},
		Device:  engine.DeviceEnv{IDPresent: true, Known: true, Devices: 2, Family: "chrome/windows", Browser: "chrome", OS: "windows", Type: "desktop"},
		Geo:     engine.GeoEnv{Known: true, Source: "geoip", Country: "FR", City: "Paris", HasCoordinates: true, PreviousCountry: "FR", VelocityKnown: true, HoursSince: 20},
		IP:      engine.IPEnv{Version: 4, Class: "public", Public: true},
		State:   engine.StateEnv{Available: true},
	}
	env.IP.Usernames10m, env.IP.Usernames1h, env.IP.Usernames24h = 1, 1, 1
	return env
}

// withoutFast is s with every rule on the VM: the reference the fast path
// is measured against.
func withoutFast(s *Set) *Set {
	vmSet := &Set{rules: append([]Rule(nil), s.rules...), thresholds: s.thresholds, version: s.version}
	vmSet.vms.New = func() any { return new(vm.VM) }
	for i := range vmSet.rules {
		vmSet.rules[i].fast = nil
	}
	return vmSet
}

func BenchmarkEvaluate(b *testing.B) {
	s, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	env := ordinaryEnv()
	for _, c := range []struct {
		name string
		set  *Set
	}{{"fast", s}, {"vm", withoutFast(s)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v engine.Verdict
				c.set.Evaluate(&env, &v)
			}
		})
	}
}

// TestFastPathSpeedBudget keeps the fast path fast, as a ratio to the VM
// evaluating the same rules in the same process, interleaved, the best
// of several rounds each: machine load slows both alike. Measured about
// 7x; the budget is 3x, so only a real regression (a rule shape falling
// back to the VM, reflection creeping back) fails it. CI runs it without
// the race detector.
func TestFastPathSpeedBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing; run without -race and -short")
	}
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	slow := withoutFast(s)
	env := ordinaryEnv()
	best := func(set *Set) time.Duration {
		start := time.Now()
		for range 2000 {
			var v engine.Verdict
			set.Evaluate(&env, &v)
		}
		return time.Since(start)
	}
	fastBest, vmBest := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 7 {
		fastBest = min(fastBest, best(s))
		vmBest = min(vmBest, best(slow))
	}
	ratio := float64(vmBest) / float64(fastBest)
	t.Logf("2000 evaluations: fast %v, vm %v: %.1fx", fastBest, vmBest, ratio)
	if ratio < 3 {
		t.Errorf("the fast path is only %.1fx the VM's speed; budget 3x", ratio)
	}
}
