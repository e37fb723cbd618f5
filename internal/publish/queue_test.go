package publish

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

func TestQueueBoundsAndOrder(t *testing.T) {
	q := NewQueue(3, 1<<20)
	for i := 0; i < 5; i++ {
		ok := q.Push([]byte(strconv.Itoa(i)))
		if ok != (i < 3) {
			t.Fatalf("push %d: %v", i, ok)
		}
	}
	got := q.Peek(nil, 10)
	if len(got) != 3 || string(got[0].Data) != "0" || string(got[2].Data) != "2" || got[0].Seq != 1 || got[2].Seq != 3 {
		t.Fatalf("peek %v", got)
	}
	// Peek does not remove; Pop does, and frees room at the tail.
	if n, b := q.Len(); n != 3 || b != 3 {
		t.Fatalf("len %d %d", n, b)
	}
	q.Pop(2)
	if !q.Push([]byte("x")) || !q.Push([]byte("y")) || q.Push([]byte("z")) {
		t.Fatal("push after pop")
	}
	got = q.Peek(nil, 10)
	if s := fmt.Sprintf("%s %s %s", got[0].Data, got[1].Data, got[2].Data); s != "2 x y" {
		t.Fatalf("order %q", s)
	}
	if got[1].Seq != 4 {
		t.Fatalf("seq %d: a dropped record still takes no sequence number", got[1].Seq)
	}
}

func TestQueueByteBound(t *testing.T) {
	q := NewQueue(100, 1024)
	rec := bytes.Repeat([]byte("a"), 400)
	if !q.Push(rec) || !q.Push(rec) || q.Push(rec) {
		t.Fatal("byte bound not applied")
	}
	q.Pop(2)
	// One record bigger than the whole bound still goes through an empty queue.
	if !q.Push(make([]byte, 5000)) || q.Push([]byte("b")) {
		t.Fatal("oversized record")
	}
}

// Entries handed out by Peek keep their bytes while the producer keeps
// pushing (run with -race).
func TestQueueConcurrent(t *testing.T) {
	q := NewQueue(64, 1<<20)
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 0, 32)
		for i := 0; i < n; {
			buf = strconv.AppendInt(buf[:0], int64(i), 10)
			if q.Push(buf) {
				i++
			}
		}
	}()
	next := 0
	var peek []Entry
	for next < n {
		peek = q.Peek(peek[:0], 16)
		if len(peek) == 0 {
			<-q.Notify()
			continue
		}
		for _, e := range peek {
			if string(e.Data) != strconv.Itoa(next) {
				t.Fatalf("got %q, want %d", e.Data, next)
			}
			next++
		}
		q.Pop(len(peek))
	}
	wg.Wait()
}

func TestQueuePushAllocs(t *testing.T) {
	q := NewQueue(1000, 1<<20)
	rec := bytes.Repeat([]byte("r"), 3000)
	var peek []Entry
	for i := 0; i < 10; i++ {
		q.Push(rec)
	}
	peek = q.Peek(peek[:0], 100)
	q.Pop(len(peek))
	allocs := testing.AllocsPerRun(1000, func() {
		q.Push(rec)
		peek = q.Peek(peek[:0], 100)
		q.Pop(len(peek))
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per push", allocs)
	}
}
