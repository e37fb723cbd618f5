package pipetest

import (
	"net"
	"testing"
)

// SilentRTSP returns an rtsp:// URL of a server that accepts connections and
// never answers, for tests of inputs that never deliver a frame. It stops
// when the test ends.
func SilentRTSP(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn // held open, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return "rtsp://" + ln.Addr().String() + "/cam"
}
