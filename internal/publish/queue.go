package publish

import "sync"

// Entry is one queued record: its JSON text and a sequence number unique
// within the publisher's run (the JetStream message id is built from it).
type Entry struct {
	Data []byte
	Seq  uint64
}

// freeBytesLimit bounds the memory of recycled record buffers kept for
// reuse: enough for the steady state (a batch in flight and a few queued),
// while a backlog drained after an outage goes back to the garbage collector.
const freeBytesLimit = 4 << 20

// freeCount bounds how many recycled buffers are kept: one JetStream batch.
const freeCount = jsBatch

// Queue is a bounded FIFO of records between one producer (the streaming
// thread) and one consumer (the publisher goroutine). The consumer reads
// records at the head with Peek without removing them, publishes them, and
// removes them with Pop once they are settled; meanwhile the producer keeps
// appending at the tail. Entries returned by Peek stay valid until popped.
// Push copies the record into a recycled buffer, so in steady state neither
// side allocates.
type Queue struct {
	mu        sync.Mutex
	ring      []Entry
	head, n   int
	bytes     int
	maxBytes  int
	seq       uint64
	free      [][]byte
	freeBytes int
	notify    chan struct{}
}

// NewQueue makes a queue of at most maxRecords records and maxBytes bytes of
// record text.
func NewQueue(maxRecords, maxBytes int) *Queue {
	return &Queue{
		ring:     make([]Entry, max(1, maxRecords)),
		maxBytes: maxBytes,
		free:     make([][]byte, 0, freeCount),
		notify:   make(chan struct{}, 1),
	}
}

// Push appends a copy of rec; false when the queue is full (by records or
// bytes), in which case nothing is kept.
func (q *Queue) Push(rec []byte) bool {
	q.mu.Lock()
	if q.n == len(q.ring) || (q.n > 0 && q.bytes+len(rec) > q.maxBytes) {
		q.mu.Unlock()
		return false
	}
	var buf []byte
	if k := len(q.free); k > 0 {
		buf = q.free[k-1]
		q.free[k-1] = nil
		q.free = q.free[:k-1]
		q.freeBytes -= cap(buf)
	}
	q.seq++
	seq := q.seq
	slot := &q.ring[(q.head+q.n)%len(q.ring)]
	q.mu.Unlock()

	// The tail slot belongs to the producer until it is counted in n.
	buf = append(buf[:0], rec...)
	slot.Data, slot.Seq = buf, seq

	q.mu.Lock()
	q.n++
	q.bytes += len(rec)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return true
}

// Peek appends up to limit entries from the head to dst, oldest first, and
// returns it. They remain queued (and count as pending) until Pop.
func (q *Queue) Peek(dst []Entry, limit int) []Entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := 0; i < q.n && i < limit; i++ {
		dst = append(dst, q.ring[(q.head+i)%len(q.ring)])
	}
	return dst
}

// Pop removes k entries from the head and recycles their buffers.
func (q *Queue) Pop(k int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for ; k > 0 && q.n > 0; k-- {
		e := &q.ring[q.head]
		q.bytes -= len(e.Data)
		if q.freeBytes+cap(e.Data) <= freeBytesLimit && len(q.free) < cap(q.free) {
			q.free = append(q.free, e.Data)
			q.freeBytes += cap(e.Data)
		}
		*e = Entry{}
		q.head = (q.head + 1) % len(q.ring)
		q.n--
	}
}

// Len is the number of records queued and their bytes.
func (q *Queue) Len() (records, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, q.bytes
}

// Notify receives a value after a Push (coalesced: one value may stand for
// several pushes).
func (q *Queue) Notify() <-chan struct{} { return q.notify }
