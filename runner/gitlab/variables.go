package gitlab

import "strings"

// Variables is the job's variable list. Later entries override earlier ones
// with the same key, as in GitLab.
type Variables []Variable

// maxExpandDepth bounds nested expansion of variable values.
const maxExpandDepth = 10

// Get returns the value of the last variable named key, or "".
func (vs Variables) Get(key string) string {
	v, _ := vs.lookup(key)
	return v.Value
}

func (vs Variables) lookup(key string) (Variable, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Key == key {
			return vs[i], true
		}
	}
	return Variable{}, false
}

// Masked returns the non-empty values of the masked variables, for a Masker.
func (vs Variables) Masked() []string {
	var out []string
	for _, v := range vs {
		if v.Masked && v.Value != "" {
			out = append(out, v.Value)
		}
	}
	return out
}

// Expand replaces $NAME and ${NAME} in s by the variables' values; unknown
// names expand to "" and "$$" to a literal "$". Values of non-raw variables
// are themselves expanded (a reference cycle expands to ""); values of raw
// variables are inserted verbatim.
func (vs Variables) Expand(s string) string {
	return vs.expand(s, map[string]bool{}, 0)
}

func (vs Variables) expand(s string, active map[string]bool, depth int) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		name, n := varName(s[i+1:])
		switch {
		case s[i+1] == '$':
			b.WriteByte('$')
			i += 2
		case n == 0:
			b.WriteByte('$')
			i++
		default:
			b.WriteString(vs.value(name, active, depth))
			i += 1 + n
		}
	}
	return b.String()
}

// value returns the expanded value of one variable.
func (vs Variables) value(name string, active map[string]bool, depth int) string {
	v, ok := vs.lookup(name)
	if !ok || active[name] {
		return ""
	}
	if v.Raw || depth >= maxExpandDepth {
		return v.Value
	}
	active[name] = true
	defer delete(active, name)
	return vs.expand(v.Value, active, depth+1)
}

// varName parses a variable reference after '$': either {NAME} or NAME.
// It returns the name and the number of bytes consumed (0 if none).
func varName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end <= 1 {
			return "", 0
		}
		return s[1:end], end + 1
	}
	n := 0
	for n < len(s) && isNameByte(s[n], n == 0) {
		n++
	}
	return s[:n], n
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case '0' <= c && c <= '9':
		return !first
	}
	return false
}
