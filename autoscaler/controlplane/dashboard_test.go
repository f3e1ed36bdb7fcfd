package controlplane

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// collecting is a Registerer that keeps what is registered on it.
type collecting struct{ cs []prometheus.Collector }

func (c *collecting) Register(col prometheus.Collector) error {
	c.cs = append(c.cs, col)
	return nil
}

func (c *collecting) MustRegister(cols ...prometheus.Collector) { c.cs = append(c.cs, cols...) }

func (c *collecting) Unregister(prometheus.Collector) bool { return false }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// registered lists the metric names the control plane registers.
func registered(t *testing.T) []string {
	reg := &collecting{}
	newMetrics(reg)
	reg.MustRegister(newSignalMetrics().collectors()...)
	var names []string
	for _, col := range reg.cs {
		ch := make(chan *prometheus.Desc, 16)
		go func() { col.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("descriptor without a name: %s", d)
			}
			names = append(names, m[1])
		}
	}
	return names
}

// TestDashboardQueriesExist: every metric the shipped Grafana dashboard
// queries is one the control plane registers (histogram series by their
// family), and the dashboard covers the instant-start signals.
func TestDashboardQueriesExist(t *testing.T) {
	b, err := os.ReadFile("../dashboards/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	have := registered(t)
	queried := map[string]bool{}
	metric := regexp.MustCompile(`\brunfleet_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				base := m
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(m, suf); ok && slices.Contains(have, b) {
						base = b
					}
				}
				if !slices.Contains(have, base) {
					t.Errorf("panel %q queries %s, which no registry has", p.Title, m)
				}
				queried[base] = true
			}
		}
	}
	for _, want := range []string{"runfleet_fleet_job_wait_seconds", "runfleet_fleet_launches_total", "runfleet_fleet_warm_pool_nodes", "runfleet_fleet_forecast_error_ratio"} {
		if !queried[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}
