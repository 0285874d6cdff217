package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChangeBatches(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		files int
		want  []int
	}{
		{0, nil},
		{1, []int{1}},
		{999, []int{999}},
		{1000, []int{1000}},
		{1001, []int{1000, 1}},
		{2500, []int{1000, 1000, 500}},
		{10000, []int{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}},
	} {
		files := make([]*bulkFile, tt.files)
		for i := range files {
			files[i] = &bulkFile{bulkItem: bulkItem{Label: fmt.Sprint(i)}}
		}
		batches := changeBatches(files, maxChangeAdds)
		var sizes []int
		var order []*bulkFile
		for _, b := range batches {
			sizes = append(sizes, len(b))
			order = append(order, b...)
		}
		require.Equal(t, tt.want, sizes, "%d files", tt.files)
		if tt.files > 0 {
			require.Equal(t, files, order, "every file once, in the order given")
		}
	}
}

func TestChangeBatchesSkipFailedAndRepeated(t *testing.T) {
	t.Parallel()
	files := make([]*bulkFile, 1003)
	for i := range files {
		files[i] = &bulkFile{bulkItem: bulkItem{Label: fmt.Sprint(i)}}
	}
	files[0].fail(stageUpload, fmt.Errorf("refused"))
	files[1].dup = files[2]
	batches := changeBatches(files, maxChangeAdds)
	require.Len(t, batches, 2)
	require.Len(t, batches[0], 1000)
	require.Len(t, batches[1], 1)
	require.Same(t, files[2], batches[0][0])
	require.Same(t, files[1002], batches[1][0])
}
