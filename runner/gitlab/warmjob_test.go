package gitlab

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

// TestSpecKeyCoversSpec: every field of an executor spec either changes a
// warm container's key, so a job never runs in one made with other
// mounts, limits, image or user, or is named here with why it may differ.
// A field added to executors.Spec later fails this test until it is
// placed.
func TestSpecKeyCoversSpec(t *testing.T) {
	notInKey := map[string]string{
		"JobID":            "the container's own name",
		"Node":             "one node per agent",
		"Env":              "handed over with each step",
		"Labels":           "the warm container's own",
		"Log":              "the notes are replayed into the job's log",
		"Services":         "canWarmJob refuses jobs with services",
		"Image.Entrypoint": "canWarmJob refuses an entrypoint override",
		"Image.Command":    "services only",
		"Image.Auth":       "the image is on the node already: canWarmJob refuses pull_policy always",
	}
	base := executors.Spec{Image: executors.Image{Name: "img"}}
	seen := map[string]bool{}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := prefix + f.Name
			fv := v.Field(i)
			if f.Type.Kind() == reflect.Struct {
				walk(name+".", fv)
				continue
			}
			seen[name] = true
			if _, ok := notInKey[name]; ok {
				continue
			}
			before := specKey(base)
			old := reflect.New(f.Type).Elem()
			old.Set(fv)
			fv.Set(sample(t, name, f.Type))
			if specKey(base) == before {
				t.Errorf("spec field %s is not in specKey and not listed as safe to differ", name)
			}
			fv.Set(old)
		}
	}
	walk("", reflect.ValueOf(&base).Elem())
	for name := range notInKey {
		if !seen[name] {
			t.Errorf("%s is listed but is no field of executors.Spec", name)
		}
	}
}

// sample is a non-zero value of type typ, for field name.
func sample(t *testing.T, name string, typ reflect.Type) reflect.Value {
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.String:
		v.SetString("sample")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Slice:
		s := reflect.MakeSlice(typ, 1, 1)
		elem := s.Index(0)
		if elem.Kind() == reflect.Struct {
			elem.Field(0).Set(sample(t, name, elem.Field(0).Type()))
		} else {
			elem.Set(sample(t, name, elem.Type()))
		}
		v.Set(s)
	case reflect.Map:
		v.Set(reflect.MakeMap(typ))
		v.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf("v"))
	case reflect.Pointer:
		v.Set(reflect.New(typ.Elem()))
	case reflect.Interface:
		v.Set(reflect.ValueOf(&bytes.Buffer{}))
	default:
		t.Fatalf("spec field %s: no sample of kind %s", name, typ.Kind())
	}
	return v
}
