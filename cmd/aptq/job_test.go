package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aptq/aptq/client"
)

func TestJobCancel(t *testing.T) {
	t.Parallel()
	b := setupPkg(t, publishes)
	res := runCLI(t, b.env, "job", "cancel", "17", "--json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var job client.Job
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &job), res.stdout)
	require.Equal(t, client.JobCancelled, job.State)
	require.Equal(t, 1, b.api.snapshot().cancelled)

	res = runCLI(t, b.env, "job", "cancel", "0")
	require.Equal(t, exitUsage, res.code)
}
