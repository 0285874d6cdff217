package worker

import (
	"sync"

	"github.com/aptq/aptq/apt"
)

// contentsCache keeps the Contents indexes this process generated last,
// as indexCache keeps Packages indexes (used only when its file is the one
// the last committed generation lists), within a byte limit of its own
// (Config.IndexCacheBytes), least recently used first out.
type contentsCache struct {
	mu    sync.Mutex
	limit int64
	size  int64
	tick  uint64
	byKey map[cacheKey]*contentsEntry
}

type contentsEntry struct {
	ct   *apt.Contents
	file apt.IndexFile
	size int64
	used uint64
}

func newContentsCache(limit int64) *contentsCache {
	return &contentsCache{limit: limit, byKey: map[cacheKey]*contentsEntry{}}
}

// get returns the cached index of k whose file has this SHA-256.
func (c *contentsCache) get(k cacheKey, sha256 string) *apt.Contents {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[k]
	if e == nil || e.file.SHA256 != sha256 {
		return nil
	}
	c.tick++
	e.used = c.tick
	return e.ct
}

// data returns the cached file of k at path with this SHA-256, else nil.
func (c *contentsCache) data(k cacheKey, path, sha256 string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[k]; e != nil && e.file.Path == path && e.file.SHA256 == sha256 {
		return e.file.Data
	}
	return nil
}

// put caches ct, whose uncompressed text is plainSize bytes, and its file.
func (c *contentsCache) put(k cacheKey, ct *apt.Contents, file apt.IndexFile, plainSize int64) {
	// The lines' texts, their paths and names, and the index's per-line
	// and per-package records come to about twice the text; the .gz is
	// held whole and as its chunks.
	size := 2*plainSize + 2*file.Size
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.byKey[k]; old != nil {
		c.size -= old.size
		delete(c.byKey, k)
	}
	if size > c.limit {
		return
	}
	for c.size+size > c.limit {
		var oldest cacheKey
		oldestUse := ^uint64(0)
		for key, e := range c.byKey {
			if e.used < oldestUse {
				oldest, oldestUse = key, e.used
			}
		}
		c.size -= c.byKey[oldest].size
		delete(c.byKey, oldest)
	}
	c.tick++
	c.byKey[k] = &contentsEntry{ct: ct, file: file, size: size, used: c.tick}
	c.size += size
}
