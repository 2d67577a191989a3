package main

import (
	"context"
	"log/slog"

	"github.com/riskgate/riskgate/engine"
)

// geoFlags configure GeoIP enrichment (filled in by the GeoIP work).
type geoFlags struct{}

func (g *geoFlags) enrichers(ctx context.Context, log *slog.Logger) ([]engine.Enricher, func(), error) {
	return nil, nil, nil
}
