package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gst-react/gst-react/cloudworker"
	"github.com/gst-react/gst-react/internal/natsserver"
)

// LocalCloudOptions configures StartLocalCloud. Zero values are defaults.
type LocalCloudOptions struct {
	Model        string        // cloud model path or manifest name ("" = manifest's cloud model)
	Threads      int           // ONNX Runtime threads of the worker (0 = default)
	ExtraLatency time.Duration // added to every reply
	Log          *slog.Logger  // nil = discard
}

// LocalCloud is an embedded NATS server on loopback with one in-process cloud
// worker: the default of `gstreact run`, so REACT needs nothing else running.
type LocalCloud struct {
	Server *natsserver.Server
	Worker *cloudworker.Worker
}

// StartLocalCloud starts the server on a free loopback port and the worker
// on it, and returns when the worker is subscribed.
func StartLocalCloud(ctx context.Context, o LocalCloudOptions) (*LocalCloud, error) {
	srv, err := natsserver.Start(natsserver.Options{Logger: o.Log, NoLog: o.Log == nil})
	if err != nil {
		return nil, fmt.Errorf("starting the embedded NATS server: %w", err)
	}
	w, err := StartWorker(ctx, srv.ClientURL(), o)
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	return &LocalCloud{Server: srv, Worker: w}, nil
}

// StartWorker starts an in-process cloud worker on the NATS server at url.
func StartWorker(ctx context.Context, url string, o LocalCloudOptions) (*cloudworker.Worker, error) {
	wo := cloudworker.DefaultOptions()
	wo.NATSURL = url
	if o.Model != "" {
		wo.ModelPath = o.Model
	}
	wo.Threads = o.Threads
	// It shares the cores with the edge pipeline and runs every m-th frame:
	// spinning between requests would take them from decoding and analysis.
	wo.NoSpin = true
	wo.ExtraLatency = o.ExtraLatency
	wo.WorkerID = "in-process"
	wo.SummaryInterval = -1
	wo.Logger = o.Log
	if wo.Logger == nil {
		wo.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w, err := cloudworker.New(wo)
	if err != nil {
		return nil, fmt.Errorf("starting the in-process cloud worker: %w", err)
	}
	if err := w.Start(ctx); err != nil {
		w.Stop()
		return nil, fmt.Errorf("starting the in-process cloud worker: %w", err)
	}
	return w, nil
}

// URL is the embedded server's client URL.
func (c *LocalCloud) URL() string { return c.Server.ClientURL() }

// Stop drains the worker and shuts the server down.
func (c *LocalCloud) Stop() {
	c.Worker.Stop()
	c.Server.Shutdown()
}
