// Package rtspserve is a small RTSP server in the process (gst-rtsp-server
// over cgo): `gstreact run --output rtsp://HOST:PORT/PATH` serves the overlaid
// video with it, and tests use it as a camera.
//
// A server runs its own GMainContext on a locked OS thread. Two kinds of
// mount: MountLaunch serves a gst-launch description (a test camera), and
// MountFeed serves an H.264 stream pushed in by a gstbridge.Bridge from
// another pipeline: the encoder runs once, in that pipeline, whatever the
// number of viewers; the mount's media is shared by all clients and every
// media's appsrc is a target of the bridge while it is prepared.
package rtspserve

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-rtsp-server-1.0
#include <stdint.h>
#include <stdlib.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

extern void rtspserveFeedConfigure(uintptr_t mount, GstElement *src);
extern void rtspserveFeedUnprepared(uintptr_t mount, GstElement *src);
extern void rtspservePlayRequest(uintptr_t server, char *path);

typedef struct {
	GMainContext *ctx;
	GMainLoop *loop;
	GstRTSPServer *server;
	GSource *source;
	uintptr_t id;
} RS;

typedef struct {
	uintptr_t mount;
	GstElement *src;
} Feed;

static void rs_feed_free(gpointer p, GClosure *c) {
	Feed *f = p;
	gst_object_unref(f->src);
	g_free(f);
}

static void rs_on_unprepared(GstRTSPMedia *media, gpointer p) {
	Feed *f = p;
	rtspserveFeedUnprepared(f->mount, f->src);
}

static void rs_on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer user) {
	GstElement *bin = gst_rtsp_media_get_element(media);
	if (!bin) return;
	GstElement *src = gst_bin_get_by_name_recurse_up(GST_BIN(bin), "feed");
	gst_object_unref(bin);
	if (!src) return;
	Feed *f = g_new0(Feed, 1);
	f->mount = (uintptr_t)user;
	f->src = src;
	g_signal_connect_data(media, "unprepared", G_CALLBACK(rs_on_unprepared), f, rs_feed_free, 0);
	rtspserveFeedConfigure(f->mount, src);
}

static void rs_on_play_request(GstRTSPClient *client, GstRTSPContext *ctx, gpointer user) {
	rtspservePlayRequest((uintptr_t)user, ctx && ctx->uri ? ctx->uri->abspath : NULL);
}

static void rs_on_client(GstRTSPServer *server, GstRTSPClient *client, gpointer user) {
	g_signal_connect(client, "play-request", G_CALLBACK(rs_on_play_request), user);
}

static RS *rs_new(const char *address, const char *service, uintptr_t id, GError **err) {
	RS *s = g_new0(RS, 1);
	s->id = id;
	s->ctx = g_main_context_new();
	s->loop = g_main_loop_new(s->ctx, FALSE);
	s->server = gst_rtsp_server_new();
	gst_rtsp_server_set_address(s->server, address);
	gst_rtsp_server_set_service(s->server, service);
	g_signal_connect(s->server, "client-connected", G_CALLBACK(rs_on_client), (gpointer)id);
	s->source = gst_rtsp_server_create_source(s->server, NULL, err);
	if (!s->source) {
		gst_object_unref(s->server);
		g_main_loop_unref(s->loop);
		g_main_context_unref(s->ctx);
		g_free(s);
		return NULL;
	}
	g_source_attach(s->source, s->ctx);
	return s;
}

static int rs_port(RS *s) { return gst_rtsp_server_get_bound_port(s->server); }

static void rs_run(RS *s) {
	g_main_context_push_thread_default(s->ctx);
	g_main_loop_run(s->loop);
	g_main_context_pop_thread_default(s->ctx);
}

static void rs_mount(RS *s, const char *path, const char *launch, gboolean shared, uintptr_t feed_id, guint latency_ms) {
	GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(s->server);
	GstRTSPMediaFactory *f = gst_rtsp_media_factory_new();
	gst_rtsp_media_factory_set_launch(f, launch);
	gst_rtsp_media_factory_set_shared(f, shared);
	gst_rtsp_media_factory_set_latency(f, latency_ms);
	if (feed_id) g_signal_connect(f, "media-configure", G_CALLBACK(rs_on_media_configure), (gpointer)feed_id);
	gst_rtsp_mount_points_add_factory(mounts, path, f);
	g_object_unref(mounts);
}

static void rs_unmount(RS *s, const char *path) {
	GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(s->server);
	gst_rtsp_mount_points_remove_factory(mounts, path);
	g_object_unref(mounts);
}

static GstRTSPFilterResult rs_remove_client(GstRTSPServer *server, GstRTSPClient *client, gpointer user) {
	return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult rs_remove_session(GstRTSPSessionPool *pool, GstRTSPSession *session, gpointer user) {
	return GST_RTSP_FILTER_REMOVE;
}

static gboolean rs_quit(gpointer p) {
	RS *s = p;
	g_main_loop_quit(s->loop);
	return G_SOURCE_REMOVE;
}

// rs_shutdown runs in the server's loop: stop listening, drop every client
// and session (their media pipelines stop), and quit a little later so the
// clients' sockets are closed first.
static gboolean rs_shutdown(gpointer p) {
	RS *s = p;
	g_source_destroy(s->source);
	GList *l = gst_rtsp_server_client_filter(s->server, rs_remove_client, NULL);
	g_list_free_full(l, g_object_unref);
	GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool(s->server);
	if (pool) {
		l = gst_rtsp_session_pool_filter(pool, rs_remove_session, NULL);
		g_list_free_full(l, g_object_unref);
		g_object_unref(pool);
	}
	GSource *t = g_timeout_source_new(100);
	g_source_set_callback(t, rs_quit, s, NULL);
	g_source_attach(t, s->ctx);
	g_source_unref(t);
	return G_SOURCE_REMOVE;
}

static void rs_stop(RS *s) { g_main_context_invoke(s->ctx, rs_shutdown, s); }

static void rs_free(RS *s) {
	g_source_unref(s->source);
	gst_object_unref(s->server);
	g_main_loop_unref(s->loop);
	g_main_context_unref(s->ctx);
	g_free(s);
}

static gchar *rs_error(GError *e) { return e ? e->message : "unknown error"; }
*/
import "C"

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/gst-react/gst-react/internal/gstbridge"
)

// Server is one RTSP server listening on one address.
type Server struct {
	c     *C.RS
	id    uintptr
	host  string
	port  int
	key   string
	refs  int
	done  chan struct{}
	feeds map[string]*feed // by path
}

type feed struct {
	id     uintptr
	bridge *gstbridge.Bridge
}

var (
	mu      sync.Mutex
	nextID  uintptr
	servers = map[string]*Server{} // open servers by requested address (not port 0)
	byID    = map[uintptr]*Server{}
	feeds   = map[uintptr]*feed{}
)

// Listen starts a server on addr ("host:port"; port 0 picks a free one), or
// returns the one already listening there (Close as often as Listen). The
// caller must have initialised GStreamer.
func Listen(addr string) (*Server, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("rtsp server address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("rtsp server address %q: bad port", addr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	key := net.JoinHostPort(host, strconv.Itoa(port))
	mu.Lock()
	defer mu.Unlock()
	if s, ok := servers[key]; ok && port != 0 {
		s.refs++
		return s, nil
	}
	nextID++
	id := nextID
	ch, cs := C.CString(host), C.CString(strconv.Itoa(port))
	defer C.free(unsafe.Pointer(ch))
	defer C.free(unsafe.Pointer(cs))
	var gerr *C.GError
	c := C.rs_new(ch, cs, C.uintptr_t(id), &gerr)
	if c == nil {
		msg := C.GoString(C.rs_error(gerr))
		if gerr != nil {
			C.g_error_free(gerr)
		}
		return nil, fmt.Errorf("rtsp server on %s: %s", key, msg)
	}
	s := &Server{c: c, id: id, host: host, port: int(C.rs_port(c)), key: key, refs: 1, done: make(chan struct{}), feeds: map[string]*feed{}}
	if port != 0 {
		servers[key] = s
	}
	byID[id] = s
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		C.rs_run(c)
		close(s.done)
	}()
	return s, nil
}

// Port is the bound port.
func (s *Server) Port() int { return s.port }

// URL of path on this server, with a host a client can dial (0.0.0.0 and ::
// become 127.0.0.1).
func (s *Server) URL(path string) string {
	h := s.host
	if h == "0.0.0.0" || h == "::" || h == "" {
		h = "127.0.0.1"
	}
	return "rtsp://" + net.JoinHostPort(h, strconv.Itoa(s.port)) + cleanPath(path)
}

func cleanPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// MountLaunch serves a gst-launch description at path; the description is
// wrapped in parentheses and needs a payloader named pay0 (pay1, … for more
// streams). shared: one media for all clients.
func (s *Server) MountLaunch(path, launch string, shared bool) error {
	return s.mount(path, launch, shared, 0)
}

// FeedLaunch is the media of a feed mount: an appsrc named "feed" taking
// H.264 byte-stream access units from a bridge.
const FeedLaunch = "( appsrc name=feed is-live=true format=time do-timestamp=true max-buffers=120 leaky-type=downstream " +
	"! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )"

// MountFeed serves the H.264 stream the bridge carries at path: every media
// clients open there becomes a target of the bridge (from its preparation to
// its end), and each new media and each PLAY asks the encoder for a key frame.
func (s *Server) MountFeed(path string, b *gstbridge.Bridge) error {
	mu.Lock()
	nextID++
	f := &feed{id: nextID, bridge: b}
	feeds[f.id] = f
	mu.Unlock()
	if err := s.mount(path, FeedLaunch, true, f.id); err != nil {
		mu.Lock()
		delete(feeds, f.id)
		mu.Unlock()
		return err
	}
	mu.Lock()
	s.feeds[cleanPath(path)] = f
	mu.Unlock()
	return nil
}

func (s *Server) mount(path, launch string, shared bool, feedID uintptr) error {
	mu.Lock()
	closed := s.c == nil
	_, taken := s.feeds[cleanPath(path)]
	mu.Unlock()
	if closed {
		return fmt.Errorf("rtsp server %s is closed", s.key)
	}
	if taken {
		return fmt.Errorf("rtsp server %s already serves %s", s.key, cleanPath(path))
	}
	cp, cl := C.CString(cleanPath(path)), C.CString(launch)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(cl))
	sh := C.gboolean(0)
	if shared {
		sh = 1
	}
	C.rs_mount(s.c, cp, cl, sh, C.uintptr_t(feedID), 200)
	return nil
}

// Unmount stops serving path to new clients (clients playing it get the end
// of the stream when its feed ends).
func (s *Server) Unmount(path string) {
	mu.Lock()
	if f, ok := s.feeds[cleanPath(path)]; ok {
		delete(feeds, f.id)
		delete(s.feeds, cleanPath(path))
	}
	c := s.c
	mu.Unlock()
	if c == nil {
		return
	}
	cp := C.CString(cleanPath(path))
	defer C.free(unsafe.Pointer(cp))
	C.rs_unmount(c, cp)
}

// Close releases this reference; the last one stops listening, disconnects
// every client and waits for the server's loop to end.
func (s *Server) Close() {
	mu.Lock()
	s.refs--
	if s.refs > 0 || s.c == nil {
		mu.Unlock()
		return
	}
	c := s.c
	s.c = nil
	if servers[s.key] == s {
		delete(servers, s.key)
	}
	delete(byID, s.id)
	for p, f := range s.feeds {
		delete(feeds, f.id)
		delete(s.feeds, p)
	}
	mu.Unlock()
	C.rs_stop(c)
	<-s.done
	C.rs_free(c)
}

//export rtspserveFeedConfigure
func rtspserveFeedConfigure(id C.uintptr_t, src *C.GstElement) {
	mu.Lock()
	f := feeds[uintptr(id)]
	mu.Unlock()
	if f == nil {
		return
	}
	f.bridge.AddTarget(unsafe.Pointer(src))
	f.bridge.RequestKeyFrame()
}

//export rtspserveFeedUnprepared
func rtspserveFeedUnprepared(id C.uintptr_t, src *C.GstElement) {
	mu.Lock()
	f := feeds[uintptr(id)]
	mu.Unlock()
	if f != nil {
		f.bridge.RemoveTarget(unsafe.Pointer(src))
	}
}

//export rtspservePlayRequest
func rtspservePlayRequest(id C.uintptr_t, cpath *C.char) {
	path := ""
	if cpath != nil {
		path = C.GoString(cpath)
	}
	mu.Lock()
	bs := playedFeeds(byID[uintptr(id)], path)
	mu.Unlock()
	for _, b := range bs {
		b.RequestKeyFrame()
	}
}

// playedFeeds is the bridge of the feed a PLAY for path starts (the longest
// mount that is path or above it, e.g. /live/cam0 for /live/cam0/stream=0), so only that camera's encoder
// makes a key frame; every feed of the server when the path matches none.
// Call with mu held.
func playedFeeds(s *Server, path string) []*gstbridge.Bridge {
	if s == nil {
		return nil
	}
	var all []*gstbridge.Bridge
	var best *feed
	bestLen := -1
	for p, f := range s.feeds {
		if (path == p || strings.HasPrefix(path, p+"/")) && len(p) > bestLen {
			best, bestLen = f, len(p)
		}
		all = append(all, f.bridge)
	}
	if best != nil {
		return []*gstbridge.Bridge{best.bridge}
	}
	return all
}
