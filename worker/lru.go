package worker

import "sync"

// sizedLRU is the memory of the index caches: one value per key, within a
// byte limit, least recently used first out. The caches say what a value
// costs and when it may be used.
type sizedLRU[V any] struct {
	mu    sync.Mutex
	limit int64
	size  int64
	tick  uint64
	byKey map[cacheKey]*lruEntry[V]
}

type lruEntry[V any] struct {
	v    V
	size int64
	used uint64
}

func newSizedLRU[V any](limit int64) *sizedLRU[V] {
	return &sizedLRU[V]{limit: limit, byKey: map[cacheKey]*lruEntry[V]{}}
}

// use returns the value of k if ok accepts it, and counts it as used.
func (c *sizedLRU[V]) use(k cacheKey, ok func(V) bool) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[k]
	if e == nil || !ok(e.v) {
		var zero V
		return zero, false
	}
	c.tick++
	e.used = c.tick
	return e.v, true
}

// peek returns the value of k without counting it as used: reading a
// file back for an upload does not make its index likelier to be edited.
func (c *sizedLRU[V]) peek(k cacheKey) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[k]
	if e == nil {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put makes v, which holds about size bytes, the value of k; a value
// larger than the whole limit is not kept (and k's older value goes).
func (c *sizedLRU[V]) put(k cacheKey, v V, size int64) {
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
	c.byKey[k] = &lruEntry[V]{v: v, size: size, used: c.tick}
	c.size += size
}
