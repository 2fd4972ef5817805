package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts bound every phase of a connection and the shutdown.
type Timeouts struct {
	ReadHeader, Read, Write, Idle, Shutdown time.Duration
}

// Listeners are where the server answers. Main is required; TLS nil serves
// Main in plain HTTP (the caller allows that on loopback only). Redirect,
// when set, answers plain HTTP with a redirect to Main; Metrics, when set,
// serves only /api/metrics.
type Listeners struct {
	Main     net.Listener
	TLS      *tls.Config
	Redirect net.Listener
	// RedirectHandler answers on Redirect (certs.RedirectHandler).
	RedirectHandler http.Handler
	Metrics         net.Listener
}

// Serve answers on the listeners until ctx is done, then shuts down
// gracefully: the listeners close at once, in-flight requests get
// t.Shutdown to finish. It also runs the store's housekeeping. It returns
// the first listener error, or nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, l Listeners, t Timeouts) error {
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: t.ReadHeader,
			ReadTimeout:       t.Read,
			WriteTimeout:      t.Write,
			IdleTimeout:       t.Idle,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          errLog,
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
	}
	type running struct {
		srv *http.Server
		run func() error
	}
	var servers []running
	main := newServer(s.Handler())
	if l.TLS != nil {
		main.TLSConfig = l.TLS
		servers = append(servers, running{main, func() error { return main.ServeTLS(l.Main, "", "") }})
	} else {
		servers = append(servers, running{main, func() error { return main.Serve(l.Main) }})
	}
	if l.Redirect != nil {
		rs := newServer(l.RedirectHandler)
		servers = append(servers, running{rs, func() error { return rs.Serve(l.Redirect) }})
	}
	if l.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET "+pathMetrics, s.metricsHandler)
		ms := newServer(mux)
		servers = append(servers, running{ms, func() error { return ms.Serve(l.Metrics) }})
	}

	errc := make(chan error, len(servers))
	for _, r := range servers {
		go func() {
			if err := r.run(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	hkCtx, stopHK := context.WithCancel(ctx)
	var hk sync.WaitGroup
	hk.Go(func() { s.housekeeping(hkCtx) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stopHK()
	hk.Wait()
	s.log.Info("shutting down: finishing in-flight requests", "timeout", t.Shutdown.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.Shutdown)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range servers {
		wg.Go(func() {
			if e := r.srv.Shutdown(sctx); e != nil {
				s.log.Warn("shutdown did not finish in time: closing connections", "error", e.Error())
				_ = r.srv.Close()
			}
		})
	}
	wg.Wait()
	return err
}

// housekeeping deletes expired refresh tokens hourly.
func (s *Server) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.opts.Store.DeleteExpiredRefreshTokens(ctx, s.now()); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("deleting expired refresh tokens", "error", err.Error())
			}
		} else if n > 0 {
			s.log.Info("deleted expired refresh tokens", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
