package main

import (
	"flag"
	"strings"
)

// listFlag collects comma-separated values from one or more uses of a flag;
// the first use replaces the default. A value for which whole reports true
// is taken as it is (a file whose name has a comma).
type listFlag struct {
	vals  []string
	set   bool
	whole func(string) bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }
func (l *listFlag) Set(v string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	if l.whole != nil && l.whole(v) {
		l.vals = append(l.vals, v)
		return nil
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.vals = append(l.vals, s)
		}
	}
	return nil
}

func newList(def ...string) *listFlag { return &listFlag{vals: def} }

// flagGiven says whether name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
