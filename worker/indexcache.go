package worker

import (
	"sync"

	"github.com/aptq/aptq/apt"
)

// indexCache keeps the Packages indexes this process generated last, with
// their files, so that the next round of a release it leads applies its
// changes to them (apt.Index.Apply) instead of reading and rendering every
// package of the release again, and uploads the flat files of a committed
// round from memory instead of reading them back from S3. An entry is used
// only when its Packages digest is the one the last committed generation
// lists, so a stale entry (another worker published since, a round failed)
// is never used: it costs a rebuild from the database, as a miss does.
// Least recently used entries go first once the cache holds more than its
// byte limit.
type indexCache struct {
	mu    sync.Mutex
	limit int64
	size  int64
	tick  uint64
	byKey map[cacheKey]*cacheEntry
}

type cacheKey struct {
	release int64
	index   indexKey
}

type cacheEntry struct {
	ix    *apt.Index
	files []apt.IndexFile // Packages first, as apt.Index.Files returns them
	size  int64
	used  uint64
}

func newIndexCache(limit int64) *indexCache {
	return &indexCache{limit: limit, byKey: map[cacheKey]*cacheEntry{}}
}

// index returns the cached index of k whose Packages has this SHA-256.
func (c *indexCache) index(k cacheKey, packagesSHA256 string) *apt.Index {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[k]
	if e == nil || e.files[0].SHA256 != packagesSHA256 {
		return nil
	}
	c.tick++
	e.used = c.tick
	return e.ix
}

// data returns the content of the cached file of k at path if it has this
// SHA-256, else nil.
func (c *indexCache) data(k cacheKey, path, sha256 string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[k]
	if e == nil {
		return nil
	}
	for _, f := range e.files {
		if f.Path == path && f.SHA256 == sha256 {
			return f.Data
		}
	}
	return nil
}

// put caches ix and its files as the latest of k.
func (c *indexCache) put(k cacheKey, ix *apt.Index, files []apt.IndexFile) {
	// Packages' bytes are the index's own; an index that was applied to
	// still points at stanzas in its parent's buffer, hence twice. The
	// compressed files are held twice too: whole, and as the index's chunks.
	size := 2 * int64(ix.Size())
	for _, f := range files[1:] {
		size += 2 * f.Size
	}
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
	c.byKey[k] = &cacheEntry{ix: ix, files: files, size: size, used: c.tick}
	c.size += size
}
