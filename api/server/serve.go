package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// Listen binds the listeners.
func (s *Server) Listen() error {
	var err error
	if s.httpSrv != nil {
		if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
			return fmt.Errorf("server: http: %w", err)
		}
		s.httpLn = limitConns(s.httpLn, "http", s.cfg.MaxConnections, s.log)
	}
	if s.grpcSrv != nil {
		if s.grpcLn, err = net.Listen("tcp", s.cfg.GRPCAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: grpc: %w", err)
		}
		s.grpcLn = limitConns(s.grpcLn, "grpc", s.cfg.MaxConnections, s.log)
	}
	if s.grpcAdminSrv != nil {
		if s.grpcAdminLn, err = net.Listen("tcp", s.cfg.GRPCAdminAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: grpc admin: %w", err)
		}
		s.grpcAdminLn = limitConns(s.grpcAdminLn, "grpc-admin", s.cfg.MaxConnections, s.log)
	}
	if s.metricsSrv != nil {
		if s.metricsLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: metrics: %w", err)
		}
	}
	if s.pprofSrv != nil {
		if s.pprofLn, err = net.Listen("tcp", s.cfg.PprofAddr); err != nil {
			s.closeListeners()
			return fmt.Errorf("server: pprof: %w", err)
		}
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.httpLn, s.grpcLn, s.grpcAdminLn, s.metricsLn, s.pprofLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// Addrs returns the bound addresses (empty for a listener that is off).
func (s *Server) Addrs() Addrs {
	var a Addrs
	if s.httpLn != nil {
		a.HTTP = s.httpLn.Addr().String()
	}
	if s.grpcLn != nil {
		a.GRPC = s.grpcLn.Addr().String()
	}
	if s.grpcAdminLn != nil {
		a.GRPCAdmin = s.grpcAdminLn.Addr().String()
	}
	if s.metricsLn != nil {
		a.Metrics = s.metricsLn.Addr().String()
	}
	return a
}

// Run listens and serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Serve serves on the bound listeners until ctx is done, then drains
// in-flight requests within the shutdown timeout and returns. It returns
// an error if a listener failed or if the drain had to cut requests.
func (s *Server) Serve(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	errc := make(chan error, 6)
	var wg sync.WaitGroup
	serve := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("server: %s: %w", name, err)
			}
		}()
	}
	if s.httpSrv != nil {
		serve("http", func() error {
			if s.httpSrv.TLSConfig != nil {
				return s.httpSrv.ServeTLS(s.httpLn, "", "")
			}
			return s.httpSrv.Serve(s.httpLn)
		})
	}
	if s.grpcSrv != nil {
		serve("grpc", func() error { return s.grpcSrv.Serve(s.grpcLn) })
	}
	if s.grpcAdminSrv != nil {
		serve("grpc admin", func() error { return s.grpcAdminSrv.Serve(s.grpcAdminLn) })
	}
	if s.metricsSrv != nil {
		serve("metrics", func() error { return s.metricsSrv.Serve(s.metricsLn) })
	}
	if s.pprofSrv != nil {
		serve("pprof", func() error { return s.pprofSrv.Serve(s.pprofLn) })
	}
	go s.followReadiness(bg)
	s.logListening()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		s.log.Error("listener failed; shutting down", "err", serveErr)
	}
	err := s.shutdown()
	stopBG()
	if err == nil {
		// A drain cut at its deadline is not waited for past it: grpc-go's
		// Serve returns only once its Stop has waited out the handshakes
		// in progress (shutdown).
		wg.Wait()
	}
	return errors.Join(serveErr, err)
}

func (s *Server) logListening() {
	a := s.Addrs()
	attrs := []any{}
	if a.HTTP != "" {
		scheme := "http"
		if s.cfg.HTTPTLS.Enabled() {
			scheme = "https"
		}
		attrs = append(attrs, "http", scheme+"://"+a.HTTP)
	}
	if a.GRPC != "" {
		attrs = append(attrs, "grpc", a.GRPC, "grpc_tls", s.cfg.GRPCTLS.Enabled())
	}
	if a.GRPCAdmin != "" {
		attrs = append(attrs, "grpc_admin", a.GRPCAdmin)
	}
	if s.pprofLn != nil {
		defer s.log.Warn("pprof served", "addr", "http://"+s.pprofLn.Addr().String()+"/debug/pprof/")
	}
	if a.Metrics != "" {
		attrs = append(attrs, "metrics", "http://"+a.Metrics+"/metrics")
	} else if a.HTTP != "" {
		attrs = append(attrs, "metrics", "(on the http listener) /metrics")
	}
	s.log.Info("riskgate listening", attrs...)
}

// shutdown drains the listeners, within the shutdown timeout.
func (s *Server) shutdown() error {
	s.shuttingDown.Store(true)
	s.health.Shutdown() // every service NOT_SERVING
	s.log.Info("shutting down", "delay", s.cfg.ShutdownDelay, "timeout", s.cfg.ShutdownTimeout)
	if s.cfg.ShutdownDelay > 0 {
		time.Sleep(s.cfg.ShutdownDelay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	add := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for name, hs := range map[string]*http.Server{"http": s.httpSrv, "metrics": s.metricsSrv, "pprof": s.pprofSrv} {
		if hs == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hs.Shutdown(ctx); err != nil {
				hs.Close()
				add(fmt.Errorf("server: %s drain: %w", name, err))
			}
		}()
	}
	for name, gs := range map[string]*grpc.Server{"grpc": s.grpcSrv, "grpc admin": s.grpcAdminSrv} {
		if gs == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() { gs.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				// Stop, like GracefulStop, waits out the handshakes in
				// progress (grpcHandshakeTimeout) before it closes the
				// connections: not past the deadline. The process exits,
				// which closes them.
				go gs.Stop()
				add(fmt.Errorf("server: %s drain: %w", name, ctx.Err()))
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		s.log.Error("drain incomplete", "err", errors.Join(errs...))
	} else {
		s.log.Info("listeners drained")
	}
	return errors.Join(errs...)
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
