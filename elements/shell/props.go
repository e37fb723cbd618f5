package shell

import (
	"sync"

	"github.com/go-gst/go-glib/glib"
)

// Prop declares one property once: its spec (name, nick, blurb, range and
// default, which gst-inspect-1.0 shows) and how it reads and writes the
// element's settings S.
type Prop[S any] struct {
	Spec *glib.ParamSpec
	Get  func(*S) any
	Set  func(*S, any)
}

// Props is an element's property table. Settings live behind the element's
// lock, apart from its streaming state.
type Props[S any] struct {
	List []Prop[S]
	// Defaults makes the settings a new element starts with.
	Defaults func() S
	// EmptyIsDefault names the string properties that go back to their
	// default when set to "" or NULL.
	EmptyIsDefault map[string]bool
}

// Specs is what ClassInit installs.
func (p *Props[S]) Specs() []*glib.ParamSpec {
	out := make([]*glib.ParamSpec, len(p.List))
	for i := range p.List {
		out[i] = p.List[i].Spec
	}
	return out
}

// Set applies a SetProperty call to s under mu.
func (p *Props[S]) Set(mu *sync.Mutex, s *S, id uint, value *glib.Value) {
	v, err := value.GoValue()
	if err != nil {
		return
	}
	if v == nil {
		v = "" // a NULL string
	}
	pr := p.List[id]
	if str, ok := v.(string); ok && str == "" && p.EmptyIsDefault[pr.Spec.Name()] {
		d := p.Defaults()
		v = pr.Get(&d)
	}
	mu.Lock()
	defer mu.Unlock()
	pr.Set(s, v)
}

// Get answers a GetProperty call from s under mu.
func (p *Props[S]) Get(mu *sync.Mutex, s *S, id uint) *glib.Value {
	mu.Lock()
	v := p.List[id].Get(s)
	mu.Unlock()
	val, err := glib.GValue(v)
	if err != nil {
		return nil
	}
	return val
}

// Ptr is a pointer to v, for string property defaults.
func Ptr[T any](v T) *T { return &v }

// P makes a Prop (a function, so tables in other packages need no field names).
func P[S any](spec *glib.ParamSpec, get func(*S) any, set func(*S, any)) Prop[S] {
	return Prop[S]{Spec: spec, Get: get, Set: set}
}
