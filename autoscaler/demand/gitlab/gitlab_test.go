package gitlab

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/autoscaler/demand/gitlab/gitlabapitest"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

func TestQueued(t *testing.T) {
	var many []gitlabapitest.Job
	for i := range 250 {
		many = append(many, gitlabapitest.Job{ID: int64(1000 + i), Name: "build", Tags: []string{"linux", "docker"}})
	}
	projects := map[string][]gitlabapitest.Job{
		"42":        {{ID: 1, Name: "a", Tags: []string{"linux"}}, {ID: 2, Name: "b"}, {ID: 3, Name: "c", Tags: []string{"docker", "linux"}}},
		"group/big": many,
		"7":         nil,
	}
	fake := gitlabapitest.New("glpat-good", func(p string) ([]gitlabapitest.Job, bool) {
		j, ok := projects[p]
		return j, ok
	})
	defer fake.Close()
	tests := []struct {
		name     string
		token    string
		projects []string
		want     []policy.QueuedJobs
		wantErr  string
	}{
		{"one project, tag sets sorted", "glpat-good", []string{"42"}, []policy.QueuedJobs{
			{Labels: []string{"linux"}, Count: 1}, {Labels: nil, Count: 1}, {Labels: []string{"docker", "linux"}, Count: 1}}, ""},
		{"paginated project by path, summed with another", "glpat-good", []string{"group/big", "42"}, []policy.QueuedJobs{
			{Labels: []string{"docker", "linux"}, Count: 251}, {Labels: []string{"linux"}, Count: 1}, {Labels: nil, Count: 1}}, ""},
		{"empty project", "glpat-good", []string{"7"}, nil, ""},
		{"wrong token", "glpat-bad", []string{"42"}, nil, "401"},
		{"unknown project", "glpat-good", []string{"404"}, nil, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{BaseURL: fake.URL(), Token: tt.token, Projects: tt.projects})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Queued(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{{}, {BaseURL: "http://x", Token: "t"}, {BaseURL: "http://x", Projects: []string{"1"}}} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
