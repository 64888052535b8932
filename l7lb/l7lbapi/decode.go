package l7lbapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// MaxPoolBytes bounds a pool document.
const MaxPoolBytes = 1 << 20

// FieldError is one wrong field of a pool document.
type FieldError struct {
	// Field is the path of the field: "haproxy.frontends[0].bindPort";
	// empty for the document as a whole.
	Field string `json:"field"`
	// Message says what is wrong and what is allowed.
	Message string `json:"error"`
}

func (e FieldError) String() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ValidationError lists every wrong field of a pool document.
type ValidationError struct {
	Errors []FieldError `json:"fields"`
}

// Error renders every field error on one line each.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.String()
	}
	n := "1 error"
	if len(lines) != 1 {
		n = strconv.Itoa(len(lines)) + " errors"
	}
	return "invalid pool (" + n + "):\n  " + strings.Join(lines, "\n  ")
}

// ignoredTop are Edge-LB pool fields about placement and packaging that
// dcnet accepts and ignores: instances are placed by the operator.
var ignoredTop = map[string]bool{
	"namespace": true, "packageName": true, "packageVersion": true, "role": true,
	"cpus": true, "cpusAdminOverhead": true, "mem": true, "memAdminOverhead": true, "disk": true,
	"count": true, "constraints": true, "ports": true, "secrets": true, "environmentVariables": true,
	"autoCertificate": true, "virtualNetworks": true, "poolHealthcheckGracePeriod": true,
	"poolHealthcheckInterval": true, "poolHealthcheckMaxFail": true, "poolHealthcheckTimeout": true,
}

// ParsePool decodes a pool document, JSON or YAML, validates it and
// returns it normalized (defaults filled in). The error is a
// *ValidationError naming every wrong field, unknown fields included;
// warnings list the Edge-LB fields that were ignored.
func ParsePool(data []byte) (p Pool, warnings []string, err error) {
	if len(data) > MaxPoolBytes {
		return Pool{}, nil, &ValidationError{Errors: []FieldError{{Message: fmt.Sprintf("document of %d bytes: at most %d", len(data), MaxPoolBytes)}}}
	}
	tree, err := decodeTree(data)
	if err != nil {
		return Pool{}, nil, &ValidationError{Errors: []FieldError{{Message: err.Error()}}}
	}
	d := &decoder{bad: map[string]bool{}}
	warnings = d.pool(tree, &p)
	p.normalize()
	for _, fe := range p.validate() {
		if !d.covered(fe.Field) {
			d.errs = append(d.errs, fe)
		}
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return fieldLess(d.errs[i].Field, d.errs[j].Field) })
		return Pool{}, warnings, &ValidationError{Errors: d.errs}
	}
	return p, warnings, nil
}

// fieldLess orders field paths as they appear in a document: by their
// parts, indexes numerically.
func fieldLess(a, b string) bool {
	pa, pb := splitPath(a), splitPath(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '.' || r == '[' || r == ']' })
}

// decodeTree turns JSON or YAML into plain values (map[string]any,
// []any, string, json.Number, bool, nil).
func decodeTree(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("empty document: want a pool in JSON or YAML")
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("not JSON or YAML: %v", err)
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, fmt.Errorf("the document is %s: want an object with name and haproxy", kind(tree))
	}
	return tree, nil
}

// decoder fills a Pool from a tree, collecting one error per wrong field
// instead of stopping at the first.
type decoder struct {
	errs []FieldError
	// bad holds the paths that already have a decoding error, so that
	// validation does not report them twice.
	bad map[string]bool
}

func (d *decoder) fail(path, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Field: path, Message: fmt.Sprintf(format, args...)})
	d.bad[path] = true
}

// covered reports whether path or one of its parents failed to decode.
func (d *decoder) covered(path string) bool {
	for p := path; p != ""; {
		if d.bad[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// object is one JSON object being decoded: its fields are taken one by
// one and done reports the ones nobody took.
type object struct {
	d    *decoder
	path string
	m    map[string]any
	took map[string]bool
}

// obj starts decoding v at path as an object; nil (absent) is an empty
// object.
func (d *decoder) obj(path string, v any) *object {
	o := &object{d: d, path: path, took: map[string]bool{}}
	switch m := v.(type) {
	case nil:
	case map[string]any:
		o.m = m
	default:
		d.fail(path, "is %s: want an object", kind(v))
	}
	return o
}

func (o *object) get(key string) (any, bool) {
	o.took[key] = true
	v, ok := o.m[key]
	return v, ok && v != nil
}

func (o *object) str(key string, dst *string) {
	v, ok := o.get(key)
	if !ok {
		return
	}
	s, isStr := v.(string)
	if !isStr {
		o.d.fail(join(o.path, key), "is %s: want a string", kind(v))
		return
	}
	*dst = s
}

func (o *object) int(key string, dst *int) {
	v, ok := o.get(key)
	if !ok {
		return
	}
	n, isNum := v.(json.Number)
	if !isNum {
		o.d.fail(join(o.path, key), "is %s: want a whole number", kind(v))
		return
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		o.d.fail(join(o.path, key), "%s is not a whole number", n)
		return
	}
	*dst = int(i)
}

func (o *object) bool(key string, dst *bool) {
	v, ok := o.get(key)
	if !ok {
		return
	}
	b, isBool := v.(bool)
	if !isBool {
		o.d.fail(join(o.path, key), "is %s: want true or false", kind(v))
		return
	}
	*dst = b
}

func (o *object) strs(key string, dst *[]string) {
	for i, v := range o.list(key) {
		s, ok := v.(string)
		if !ok {
			o.d.fail(index(join(o.path, key), i), "is %s: want a string", kind(v))
			continue
		}
		*dst = append(*dst, s)
	}
}

// list returns the elements of a list field (nil when absent).
func (o *object) list(key string) []any {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		o.d.fail(join(o.path, key), "is %s: want a list", kind(v))
		return nil
	}
	return l
}

// sub starts decoding an object field; present is false when it is absent.
func (o *object) sub(key string) (sub *object, present bool) {
	v, ok := o.get(key)
	return o.d.obj(join(o.path, key), v), ok
}

// done reports the fields nobody took, except those in ignored (which
// it returns as warnings).
func (o *object) done(ignored map[string]bool) (warnings []string) {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case o.took[k]:
		case ignored[k]:
			warnings = append(warnings, join(o.path, k)+": ignored (Edge-LB placement and packaging: run dcnet-l7lb --pool on the nodes that should serve the pool)")
		default:
			o.d.fail(join(o.path, k), "unknown field")
		}
	}
	return warnings
}
