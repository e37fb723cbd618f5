package runner

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/gst-react/gst-react/internal/launch"
)

// publishStage is the reactpublish element for Options.Publish: the same
// records as reactpublish in a gst-launch line, one per frame (every-frame),
// with the stream's id.
func publishStage(o Options) (string, error) {
	p := []string{"reactpublish name=publish every-frame=true"}
	if o.StreamID != "" {
		p = append(p, "stream-id="+launch.Quote(o.StreamID))
	}
	if server, subject, ok, err := ParsePublishURL(o.Publish); err != nil {
		return "", err
	} else if ok {
		p = append(p, "server="+launch.Quote(server))
		if subject != "" {
			p = append(p, "subject="+launch.Quote(subject))
		}
		if o.PublishJetStream {
			p = append(p, "jetstream=true")
			if o.PublishReplicas > 0 {
				p = append(p, fmt.Sprintf("jetstream-replicas=%d", o.PublishReplicas))
			}
		}
		return strings.Join(p, " "), nil
	}
	if o.PublishJetStream {
		return "", fmt.Errorf("--jetstream needs --publish nats://HOST:PORT[/SUBJECT], not the file %q", o.Publish)
	}
	return strings.Join(append(p, "location="+launch.Quote(o.Publish)), " "), nil
}

// ParsePublishURL splits nats://HOST:PORT[/SUBJECT] into the server URL and
// the subject; ok is false for anything else (a file name). Credentials in
// the URL stay in the server part.
func ParsePublishURL(s string) (server, subject string, ok bool, err error) {
	if !strings.HasPrefix(s, "nats://") && !strings.HasPrefix(s, "tls://") {
		return "", "", false, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", false, fmt.Errorf("--publish %q: want nats://HOST:PORT[/SUBJECT]", s)
	}
	subject = strings.Trim(u.Path, "/")
	if strings.ContainsAny(subject, "/ *>") {
		return "", "", false, fmt.Errorf("--publish %q: the subject %q must be a NATS subject without wildcards, e.g. react.detections.site-a", s, subject)
	}
	u.Path, u.RawPath = "", ""
	return u.String(), subject, true, nil
}

// StreamPublishTarget is one stream's --publish when several streams run:
// NATS targets are shared (records carry their stream id, and the default
// subject is per stream); a file is one per stream, its name with {id}
// replaced by the stream id, or the id added before the extension.
func StreamPublishTarget(target, id string) string {
	if _, _, ok, _ := ParsePublishURL(target); ok || target == "" || target == "-" {
		return target
	}
	if strings.Contains(target, "{id}") {
		return strings.ReplaceAll(target, "{id}", id)
	}
	ext := filepath.Ext(target)
	return strings.TrimSuffix(target, ext) + "-" + id + ext
}
