package worker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSizedLRU: the least recently used value goes first once the limit
// is passed, peek does not count as a use, a value over the whole limit is
// not kept, and replacing a key frees its old size.
func TestSizedLRU(t *testing.T) {
	t.Parallel()
	key := func(i int64) cacheKey { return cacheKey{release: i} }
	always := func(string) bool { return true }
	c := newSizedLRU[string](10)
	c.put(key(1), "a", 4)
	c.put(key(2), "b", 4)
	_, ok := c.use(key(1), always) // 1 is now newer than 2
	require.True(t, ok)
	_, ok = c.peek(key(2)) // not a use: 2 stays the oldest
	require.True(t, ok)
	c.put(key(3), "c", 4) // 12 > 10: the oldest, 2, goes
	_, ok = c.peek(key(2))
	require.False(t, ok, "the least recently used value was kept")
	v, ok := c.use(key(1), always)
	require.True(t, ok)
	require.Equal(t, "a", v)
	_, ok = c.use(key(3), func(v string) bool { return v == "other" })
	require.False(t, ok, "a value its check refuses was returned")

	c.put(key(1), "a2", 6) // replaces 4 bytes with 6: 10 in all, nothing evicted
	require.EqualValues(t, 10, c.size)
	_, ok = c.peek(key(3))
	require.True(t, ok)

	c.put(key(3), "huge", 11)
	_, ok = c.peek(key(3))
	require.False(t, ok, "a value over the limit was kept, or the old one stayed")
	require.EqualValues(t, 6, c.size)
}
