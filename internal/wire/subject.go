package wire

import "fmt"

// NATS subject layout.
const (
	// DefaultRequestSubject is where edges send requests, with NATS request/reply
	// (replies go to the request's inbox) or a publish with a reply subject.
	DefaultRequestSubject = "react.detect"
	// DefaultQueueGroup is the queue group workers subscribe in, so each request
	// is delivered to exactly one worker.
	DefaultQueueGroup = "react-workers"
	// AllTenantsSubject matches every TenantSubject, for workers that serve all tenants.
	AllTenantsSubject = DefaultRequestSubject + ".>"
)

// TenantSubject returns "react.detect.<tenant>", a per-tenant (or per-stream)
// request subject: NATS permissions can then restrict each edge to its own
// subject. tenant follows the stream id rules (1..64 of [A-Za-z0-9._-]) minus
// '.', which NATS would read as a subject separator.
func TenantSubject(tenant string) (string, error) {
	if !validStreamID(tenant) {
		return "", newErr(ErrInvalid, "tenant %q must be 1..%d characters of A-Z a-z 0-9 _ -", tenant, MaxStreamIDLen)
	}
	for i := 0; i < len(tenant); i++ {
		if tenant[i] == '.' {
			return "", newErr(ErrInvalid, "tenant %q contains '.', which NATS reads as a subject separator", tenant)
		}
	}
	return fmt.Sprintf("%s.%s", DefaultRequestSubject, tenant), nil
}
