package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/aptq/aptq/apt/debtest"
	"github.com/aptq/aptq/client"
)

const (
	dashboardFile = "../deploy/grafana/aptq.json"
	alertsFile    = "../deploy/prometheus/alerts.yml"
)

// alertRules is deploy/prometheus/alerts.yml as Prometheus reads it.
type alertRules struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert, Expr, For string
			Labels           map[string]string
			Annotations      map[string]string
		}
	}
}

// deployExprs returns every PromQL expression of the dashboard and the
// alert rules, by where it is, and the annotations of the rules.
func deployExprs(t *testing.T) (exprs map[string]string, annotations map[string]string) {
	t.Helper()
	exprs, annotations = map[string]string{}, map[string]string{}
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	for _, p := range dash.Panels {
		for i, target := range p.Targets {
			// Grafana's variable, as Grafana substitutes it.
			exprs["panel "+p.Title+" "+string(rune('A'+i))] = strings.ReplaceAll(target.Expr, "$__rate_interval", "1m")
		}
	}
	raw, err = os.ReadFile(alertsFile)
	require.NoError(t, err)
	var rules alertRules
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&rules))
	require.NotEmpty(t, rules.Groups)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.Contains(t, []string{"info", "warning", "critical"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			if r.For != "" {
				_, err := model.ParseDuration(r.For)
				require.NoError(t, err, r.Alert)
			}
			exprs["alert "+r.Alert] = r.Expr
			for k, v := range r.Annotations {
				annotations[r.Alert+" "+k] = v
			}
		}
	}
	require.Greater(t, len(exprs), 20)
	return exprs, annotations
}

// TestDeployFilesParse: every expression of the dashboard and the alert
// rules parses as PromQL (Prometheus's own parser), and every annotation
// template parses with the functions Prometheus gives them.
func TestDeployFilesParse(t *testing.T) {
	t.Parallel()
	exprs, annotations := deployExprs(t)
	p := parser.NewParser(parser.Options{})
	for where, e := range exprs {
		_, err := p.ParseExpr(e)
		require.NoError(t, err, "%s: %s", where, e)
	}
	funcs := template.FuncMap{}
	for _, name := range []string{"humanize", "humanizeDuration", "humanizePercentage"} {
		funcs[name] = func(any) string { return "" }
	}
	// Prometheus defines these before every annotation template.
	const defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	for where, a := range annotations {
		_, err := template.New(where).Funcs(funcs).Parse(defs + a)
		require.NoError(t, err, "%s: %s", where, a)
	}
}

// TestDeployMetricsExist scrapes a real aptqd after a real publish, with a
// change left waiting behind an open round, and checks that every metric
// the dashboard and the alerts name is in /metrics (those registered when
// first used included), and that the pending-change age names the release.
func TestDeployMetricsExist(t *testing.T) {
	t.Parallel()
	exprs, _ := deployExprs(t)
	b := setup(t)
	key := b.repoWithKey("main", "stable")
	deb := writeDeb(t, b.dir, debtest.Options{Package: "metered", Version: "1.0", Architecture: "amd64"})
	require.Contains(t, b.mustCLI("pkg", "add", "--repo", "main", "--release", "stable", "--key", key, deb), "published generation 1")

	// A change whose round awaits a signature (nobody signs), then one that
	// waits behind it: pending, aged in the database as if for 10 minutes.
	ctx := context.Background()
	c := client.New(b.URL, b.Token)
	submit := func(name string) client.JobRef {
		data := debtest.Build(t, debtest.Options{Package: name, Version: "1.0", Architecture: "amd64"})
		sum := sha256.Sum256(data)
		_, err := c.UploadPackage(ctx, hex.EncodeToString(sum[:]), bytes.NewReader(data), int64(len(data)))
		require.NoError(t, err)
		ref, err := c.SubmitChange(ctx, "main", "stable", client.ChangeRequest{Adds: []client.Add{
			{SHA256: hex.EncodeToString(sum[:]), Component: "main"}}})
		require.NoError(t, err)
		return ref
	}
	open := submit("unsigned")
	var job client.Job
	for !job.Round.AwaitsSignature() {
		var err error
		job, err = c.GetJob(ctx, open.JobID, 30*time.Second, job.State)
		require.NoError(t, err)
		require.NotContains(t, []string{client.JobFailed, client.JobCancelled, client.JobPublished}, job.State)
	}
	waiting := submit("waiting")
	conn, err := pgx.Connect(ctx, b.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE changes SET created_at = now() - interval '10 minutes' WHERE id = $1 AND state = 'pending'`,
		waiting.ChangeID)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected(), "the second change waits behind the open round")

	body, status, err := get(ctx, b.URL+"/metrics")
	require.NoError(t, err)
	require.Equal(t, 200, status)
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)

	p := parser.NewParser(parser.Options{})
	named := 0
	for where, e := range exprs {
		expr, err := p.ParseExpr(e)
		require.NoError(t, err, where)
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			named++
			require.True(t, exported(families, vs.Name), "%s names %s, which /metrics lacks", where, vs.Name)
			return nil
		})
	}
	require.Greater(t, named, 25)

	ages := families["aptq_release_pending_age_seconds"]
	require.NotNil(t, ages)
	require.Len(t, ages.Metric, 1)
	labels := map[string]string{}
	for _, l := range ages.Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	require.Equal(t, map[string]string{"tenant": b.Tenant, "repo": "main", "release": "stable"}, labels)
	require.GreaterOrEqual(t, ages.Metric[0].GetGauge().GetValue(), 600.0)
	require.GreaterOrEqual(t, families["aptq_pending_change_max_age_seconds"].Metric[0].GetGauge().GetValue(), 600.0)
}

// exported says whether /metrics holds name: a family, or a histogram's
// _bucket, _sum or _count series.
func exported(families map[string]*dto.MetricFamily, name string) bool {
	if f, ok := families[name]; ok {
		return len(f.Metric) > 0
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := families[base]; ok && f.GetType() == dto.MetricType_HISTOGRAM && len(f.Metric) > 0 {
				return true
			}
		}
	}
	return false
}
