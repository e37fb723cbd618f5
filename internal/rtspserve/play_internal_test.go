package rtspserve

import (
	"testing"

	"github.com/gst-react/gst-react/internal/gstbridge"
)

// A viewer's PLAY asks only its own camera's encoder for a key frame.
func TestPlayedFeedsPicksTheMount(t *testing.T) {
	live, cam0, cam1 := gstbridge.New(true), gstbridge.New(true), gstbridge.New(true)
	for _, b := range []*gstbridge.Bridge{live, cam0, cam1} {
		defer b.Close()
	}
	s := &Server{feeds: map[string]*feed{"/live": {bridge: live}, "/live/cam0": {bridge: cam0}, "/live/cam1": {bridge: cam1}}}
	cases := []struct {
		path string
		want []*gstbridge.Bridge
	}{
		{"/live/cam0", []*gstbridge.Bridge{cam0}},
		{"/live/cam1/stream=0", []*gstbridge.Bridge{cam1}},
		{"/live", []*gstbridge.Bridge{live}},
		{"/live/cam2", []*gstbridge.Bridge{live}},
	}
	for _, c := range cases {
		if got := playedFeeds(s, c.path); len(got) != 1 || got[0] != c.want[0] {
			t.Errorf("PLAY %s: %d bridges, want only the mount's", c.path, len(got))
		}
	}
	if got := playedFeeds(s, "/other"); len(got) != 3 {
		t.Errorf("PLAY of an unknown path: %d bridges, want all 3", len(got))
	}
	if got := playedFeeds(nil, "/live"); got != nil {
		t.Errorf("closed server: %v", got)
	}
}
