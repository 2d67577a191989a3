package signals

import (
	"math"
	"math/rand/v2"
	"testing"
)

// haversineFormula is Haversine as the formula is written, every term
// computed: what the fast paths of Haversine must equal bit for bit.
func haversineFormula(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * earthRadiusKM * math.Asin(math.Min(1, math.Sqrt(a)))
}

func TestHaversineMatchesFormula(t *testing.T) {
	check := func(lat1, lon1, lat2, lon2 float64) {
		t.Helper()
		got, want := Haversine(lat1, lon1, lat2, lon2), haversineFormula(lat1, lon1, lat2, lon2)
		if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("Haversine(%v, %v, %v, %v) = %v (%#x), the formula gives %v (%#x)",
				lat1, lon1, lat2, lon2, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
	edge := []float64{0, math.Copysign(0, -1), 5e-324, -5e-324, 1e-300, 90, -90, 180, -180, 48.8566, 2.3522,
		math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64}
	for _, a := range edge {
		for _, b := range edge {
			check(a, b, a, b)
			check(a, b, b, a)
			check(a, a, b, b)
			check(10, a, 10, b)
			check(a, 10, b, 10)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		lat1, lon1 := r.Float64()*180-90, r.Float64()*360-180
		lat2, lon2 := r.Float64()*180-90, r.Float64()*360-180
		check(lat1, lon1, lat2, lon2)
		check(lat1, lon1, lat1, lon1)                     // the same point
		check(lat1, lon1, lat1, lon2)                     // the same latitude
		check(lat1, lon1, lat2, lon1)                     // the same longitude
		check(lat1, lon1, math.Nextafter(lat1, 90), lon1) // next door
	}
}
