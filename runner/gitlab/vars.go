package gitlab

// jobVariable is one variable as the build sees it after expansion.
type jobVariable struct {
	Key, Value string
	File       bool
	Masked     bool
}

// expandVariables resolves $VAR and ${VAR} references between variables
// (later definitions win, raw ones are kept verbatim), as GitLab's runner
// does before handing them to the job.
func expandVariables(vars Variables) []jobVariable {
	out := make([]jobVariable, 0, len(vars))
	seen := make(map[string]int, len(vars))
	for _, v := range vars {
		val := v.Value
		if !v.Raw && !v.File {
			val = vars.Expand(val)
		}
		jv := jobVariable{Key: v.Key, Value: val, File: v.File, Masked: v.Masked}
		if i, ok := seen[v.Key]; ok {
			out[i] = jv
			continue
		}
		seen[v.Key] = len(out)
		out = append(out, jv)
	}
	return out
}

// lookup finds a variable's value by key.
func lookup(vars []jobVariable, key string) string {
	for _, v := range vars {
		if v.Key == key {
			return v.Value
		}
	}
	return ""
}
