package config

import (
	"fmt"
	"strconv"
)

// Size is a byte size as gitlab-runner's config.toml writes it: an integer
// number of bytes (shm_size = 300000) or a string with a unit ("512m").
// It keeps the text; size() parses it.
type Size string

// UnmarshalTOML accepts an integer or a string.
func (s *Size) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("size %d is negative", v)
		}
		*s = Size(strconv.FormatInt(v, 10))
	case string:
		*s = Size(v)
	default:
		return fmt.Errorf("want a size such as 300000 or \"512m\", not %T", v)
	}
	return nil
}

// StringOrArray is a list that config.toml may also give as one string, as
// gitlab-runner's pull_policy = "if-not-present".
type StringOrArray []string

// UnmarshalTOML accepts a string or an array of strings.
func (p *StringOrArray) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*p = StringOrArray{v}
	case []any:
		out := make(StringOrArray, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want strings, not %T", e)
			}
			out = append(out, s)
		}
		*p = out
	default:
		return fmt.Errorf("want a string or an array of strings, not %T", v)
	}
	return nil
}
