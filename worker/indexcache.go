package worker

import "github.com/aptq/aptq/apt"

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
type indexCache struct{ lru *sizedLRU[cacheEntry] }

type cacheKey struct {
	release int64
	index   indexKey
}

type cacheEntry struct {
	ix    *apt.Index
	files []apt.IndexFile // Packages first, as apt.Index.Files returns them
}

func newIndexCache(limit int64) *indexCache {
	return &indexCache{lru: newSizedLRU[cacheEntry](limit)}
}

// index returns the cached index of k whose Packages has this SHA-256.
func (c *indexCache) index(k cacheKey, packagesSHA256 string) *apt.Index {
	e, _ := c.lru.use(k, func(e cacheEntry) bool { return e.files[0].SHA256 == packagesSHA256 })
	return e.ix
}

// data returns the content of the cached file of k at path if it has this
// SHA-256, else nil.
func (c *indexCache) data(k cacheKey, path, sha256 string) []byte {
	e, _ := c.lru.peek(k)
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
	c.lru.put(k, cacheEntry{ix: ix, files: files}, size)
}
