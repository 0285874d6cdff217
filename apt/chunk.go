package apt

import (
	"hash/fnv"
	"runtime"
	"sync"
)

// Packages.gz and Packages.xz are each a series of independently
// compressed chunks of whole stanzas (see gzip.go and xz.go), so that a
// round that changes a few packages recompresses only the chunks they fall
// in, and a full generation compresses its chunks on every CPU. A chunk
// ends after a stanza whose identity hashes to a multiple of the format's
// mean chunk length, so that an insertion or removal moves no boundary but
// its own, and the bytes of the files depend only on the set of packages,
// as NewIndex and Apply require.

// chunkHash hashes the identity of a package for the chunk boundaries.
func chunkHash(name, version, arch string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(version))
	h.Write([]byte{0})
	h.Write([]byte(arch))
	return h.Sum64()
}

// chunk is a run of consecutive items and, once compressed, its encoding
// in one format. Its items are immutable, so the encoding is computed once
// and shared by every Index that has the same run.
type chunk struct {
	items []*item
	once  sync.Once
	data  []byte
	// unpadded is the Unpadded Size of an xz Block, which the xz Index
	// records: data without the Block Padding.
	unpadded int
	err      error // why the encoder failed, for every Files that needs it
}

// chunkItems splits items into chunks of mean length stanzas, each ending
// after an item whose hash is a multiple of stanzas (the last chunk may
// end anywhere), reusing from prev every chunk that has exactly the same
// items.
func chunkItems(items []*item, prev []*chunk, stanzas uint64) []*chunk {
	byFirst := make(map[*item]*chunk, len(prev))
	for _, c := range prev {
		byFirst[c.items[0]] = c
	}
	var chunks []*chunk
	for start := 0; start < len(items); {
		end := start + 1
		for end < len(items) && items[end-1].hash%stanzas != 0 {
			end++
		}
		run := items[start:end:end]
		if c, ok := byFirst[run[0]]; ok && sameItems(c.items, run) {
			chunks = append(chunks, c)
		} else {
			chunks = append(chunks, &chunk{items: run})
		}
		start = end
	}
	return chunks
}

func sameItems(a, b []*item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// compressChunks runs compress, which must go through the chunk's once,
// on every chunk, on all CPUs.
func compressChunks[C any](chunks []C, compress func(C)) {
	next := make(chan C)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunks)) {
		wg.Go(func() {
			for c := range next {
				compress(c)
			}
		})
	}
	for _, c := range chunks {
		next <- c
	}
	close(next)
	wg.Wait()
}

// textSize is the length of the stanzas of items.
func textSize(items []*item) int {
	n := 0
	for _, it := range items {
		n += len(it.text)
	}
	return n
}
