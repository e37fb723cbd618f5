package reactcloud

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// gstLog sends the engine's log lines to the reactcloud GST_DEBUG category,
// so GST_DEBUG=reactcloud:4 shows them beside GStreamer's own.
type gstLog struct{ attrs []slog.Attr }

func (gstLog) Enabled(context.Context, slog.Level) bool { return true }

func (h gstLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	switch {
	case r.Level >= slog.LevelError:
		cat.LogError(b.String())
	case r.Level >= slog.LevelWarn:
		cat.LogWarning(b.String())
	case r.Level >= slog.LevelInfo:
		cat.LogInfo(b.String())
	default:
		cat.LogDebug(b.String())
	}
	return nil
}

func (h gstLog) WithAttrs(as []slog.Attr) slog.Handler {
	return gstLog{attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h gstLog) WithGroup(string) slog.Handler { return h }
