package worker

import "github.com/aptq/aptq/apt"

// contentsCache keeps the Contents indexes this process generated last,
// as indexCache keeps Packages indexes (used only when its file is the one
// the last committed generation lists), within a byte limit of its own
// (Config.IndexCacheBytes), least recently used first out.
type contentsCache struct{ lru *sizedLRU[contentsEntry] }

type contentsEntry struct {
	ct   *apt.Contents
	file apt.IndexFile
}

func newContentsCache(limit int64) *contentsCache {
	return &contentsCache{lru: newSizedLRU[contentsEntry](limit)}
}

// get returns the cached index of k whose file has this SHA-256.
func (c *contentsCache) get(k cacheKey, sha256 string) *apt.Contents {
	e, _ := c.lru.use(k, func(e contentsEntry) bool { return e.file.SHA256 == sha256 })
	return e.ct
}

// data returns the cached file of k at path with this SHA-256, else nil.
func (c *contentsCache) data(k cacheKey, path, sha256 string) []byte {
	if e, ok := c.lru.peek(k); ok && e.file.Path == path && e.file.SHA256 == sha256 {
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
	c.lru.put(k, contentsEntry{ct: ct, file: file}, size)
}
