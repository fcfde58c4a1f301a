package cloudapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/sim"
)

// GET→PUT identity: a cluster document decoded and encoded again is the
// same JSON value (member order and spacing aside, numbers as written),
// whatever values its known members hold and whatever unknown members it
// has, at every depth. The shape below is written out independently of
// types.go, so a field the types lose shows up as a difference.

// memberKind is the JSON type a known member holds in the reference.
type memberKind int

const (
	kString memberKind = iota
	kInteger
	kBoolean
	kTimestamp
	kAnyJSON // NameValue.value
	kStrings // a list of strings
	kObject
	kObjects // a list of objects
)

type shapeField struct {
	name  string
	kind  memberKind
	shape *shape // for kObject and kObjects
}

type shape struct{ fields []shapeField }

var (
	nameValueShape = &shape{[]shapeField{{"name", kString, nil}, {"value", kAnyJSON, nil}}}
	metaShape      = &shape{[]shapeField{{"name", kString, nil}, {"uid", kString, nil}}}
	masterShape    = &shape{[]shapeField{{"replicas", kInteger, nil}, {"instanceType", kString, nil},
		{"coordinatorRuntimeProperties", kObjects, nameValueShape}, {"overlordRuntimeProperties", kObjects, nameValueShape}}}
	queryShape = &shape{[]shapeField{{"replicas", kInteger, nil}, {"instanceType", kString, nil},
		{"brokerRuntimeProperties", kObjects, nameValueShape}, {"routerRuntimeProperties", kObjects, nameValueShape},
		{"pivotConfiguration", kString, nil}}}
	tierShape = &shape{[]shapeField{{"replicas", kInteger, nil}, {"instanceType", kString, nil},
		{"historicalRuntimeProperties", kObjects, nameValueShape}, {"middleManagerRuntimeProperties", kObjects, nameValueShape}}}
	dataShape = &shape{[]shapeField{{"historicalRuntimeProperties", kObjects, nameValueShape},
		{"middleManagerRuntimeProperties", kObjects, nameValueShape},
		{"tier1", kObject, tierShape}, {"tier2", kObject, tierShape}, {"tier3", kObject, tierShape}}}
	metadataStoreShape = &shape{[]shapeField{{"instanceType", kString, nil}, {"diskSize", kInteger, nil},
		{"backupRetention", kInteger, nil}, {"monitoring", kBoolean, nil}, {"encrypt", kBoolean, nil}}}
	pivotShape = &shape{[]shapeField{{"accessMode", kString, nil}, {"url", kString, nil},
		{"roleAuthority", kString, nil}, {"options", kString, nil}}}
	deepStorageShape = &shape{[]shapeField{{"path", kString, nil}, {"encrypt", kBoolean, nil}}}
	extensionShape   = &shape{[]shapeField{{"name", kString, nil}, {"path", kString, nil}}}
	customFileShape  = &shape{[]shapeField{{"path", kString, nil}, {"type", kString, nil},
		{"executable", kBoolean, nil}, {"unpack", kBoolean, nil}}}
	specShape = &shape{[]shapeField{
		{"version", kString, nil}, {"desiredState", kString, nil}, {"awsInstanceRole", kString, nil},
		{"awsKeyPair", kString, nil}, {"awsTags", kObjects, nameValueShape}, {"encryptVolumes", kBoolean, nil},
		{"commonRuntimeProperties", kObjects, nameValueShape}, {"master", kObject, masterShape},
		{"query", kObject, queryShape}, {"data", kObject, dataShape}, {"metadataStore", kObject, metadataStoreShape},
		{"pivot", kObject, pivotShape}, {"deepStorage", kObject, deepStorageShape},
		{"druidExtensions", kStrings, nil}, {"customDruidExtensions", kObjects, extensionShape},
		{"featureFlags", kStrings, nil}, {"customFiles", kObjects, customFileShape}}}
	loadBalancersShape = &shape{[]shapeField{{"public", kString, nil}, {"private", kString, nil}}}
	serverShape        = &shape{[]shapeField{{"instanceId", kString, nil}, {"instanceType", kString, nil},
		{"privateIp", kString, nil}, {"publicIp", kString, nil}, {"state", kString, nil}, {"nodeType", kString, nil}}}
	updateStateShape = &shape{[]shapeField{{"cancellable", kBoolean, nil}, {"totalStages", kInteger, nil}, {"currentStage", kInteger, nil}}}
	eventShape       = &shape{[]shapeField{{"level", kString, nil}, {"message", kString, nil},
		{"source", kString, nil}, {"timestamp", kTimestamp, nil}}}
	statusShape = &shape{[]shapeField{
		{"rootCertificate", kString, nil}, {"loadBalancers", kObject, loadBalancersShape},
		{"servers", kObjects, serverShape}, {"initialDruidPassword", kString, nil}, {"status", kString, nil},
		{"state", kString, nil}, {"updateState", kObject, updateStateShape}, {"events", kObjects, eventShape},
		{"resourceVersion", kInteger, nil}}}
	clusterShape = &shape{[]shapeField{{"metadata", kObject, metaShape}, {"spec", kObject, specShape}, {"status", kObject, statusShape}}}
)

// Values of each kind: the plain ones, the empty ones a form would drop,
// and the forms a tenant may use that the reference does not show.
var (
	stringValues = []string{`""`, `null`, `"x"`, `"t2.small"`, `"STARTED"`, `"HIBERNATING"`, `"s3://b/p"`,
		`"say \"hi\" <b>&amp;"`, `"\u00e9t\u00e9"`, `"été"`, `"a\/b"`, `"\u2028"`}
	integerValues = []string{`null`, `0`, `-0`, `1`, `3`, `20`, `2147483647`, `-5`, `3.0`, `2e1`, `20.00`,
		`"42"`, `""`, `"7"`}
	booleanValues   = []string{`null`, `true`, `false`, `""`}
	timestampValues = []string{`null`, `""`, `"2024-05-01T10:00:00Z"`, `"2024-05-01T10:00:00.000Z"`,
		`"2024-05-01T12:00:00+02:00"`, `"2024-05-01T10:00:00"`, `"2024-05-01 10:00:00.5"`,
		`"2024-05-01T12:00:00+0200"`, `1714557600000`, `1714557600000.0`}
	scalarValues = []string{`null`, `true`, `false`, `0`, `-1.50`, `1e3`, `12345678901234567890`, `""`, `"s"`, `"<&>"`}
	unknownNames = []string{"labels", "annotations", "kind", "x-future", "autoscaling", "zone", "Ünïcode", "", "x y"}
)

// docGen writes random cluster documents.
type docGen struct {
	rnd *rand.Rand
	buf strings.Builder
}

func (g *docGen) pick(values []string) string { return values[g.rnd.IntN(len(values))] }

func (g *docGen) space() {
	if g.rnd.IntN(4) == 0 {
		g.buf.WriteString(g.pick([]string{" ", "\n  ", "\t"}))
	}
}

// cluster returns a new document.
func (g *docGen) cluster() []byte {
	g.buf.Reset()
	g.object(clusterShape, 0)
	return []byte(g.buf.String())
}

// object writes an object of shape s: each known member with chance 3/4,
// and up to two unknown ones, in random order.
func (g *docGen) object(s *shape, depth int) {
	type member struct {
		name  string
		write func()
	}
	var members []member
	for _, f := range s.fields {
		if g.rnd.IntN(4) > 0 {
			members = append(members, member{f.name, func() { g.value(f, depth) }})
		}
	}
	for range g.rnd.IntN(3) {
		name := g.pick(unknownNames)
		if !slices.ContainsFunc(members, func(m member) bool { return m.name == name }) {
			members = append(members, member{name, func() { g.anyJSON(depth + 1) }})
		}
	}
	g.rnd.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	g.buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			g.buf.WriteByte(',')
		}
		g.space()
		name, _ := json.Marshal(m.name)
		g.buf.Write(name)
		g.buf.WriteByte(':')
		g.space()
		m.write()
	}
	g.space()
	g.buf.WriteByte('}')
}

func (g *docGen) value(f shapeField, depth int) {
	switch f.kind {
	case kString:
		g.buf.WriteString(g.pick(stringValues))
	case kInteger:
		g.buf.WriteString(g.pick(integerValues))
	case kBoolean:
		g.buf.WriteString(g.pick(booleanValues))
	case kTimestamp:
		g.buf.WriteString(g.pick(timestampValues))
	case kAnyJSON:
		g.anyJSON(depth + 1)
	case kStrings:
		g.buf.WriteString(g.pick([]string{`null`, `[]`, `["a"]`, `["a", "b", ""]`, `["\u00e9"]`}))
	case kObject:
		switch g.rnd.IntN(8) {
		case 0:
			g.buf.WriteString("null")
		case 1:
			g.buf.WriteString("{}")
		default:
			g.object(f.shape, depth+1)
		}
	case kObjects:
		switch n := g.rnd.IntN(5); n {
		case 0:
			g.buf.WriteString("null")
		default:
			g.buf.WriteByte('[')
			for i := range n - 1 {
				if i > 0 {
					g.buf.WriteByte(',')
				}
				if g.rnd.IntN(6) == 0 {
					g.buf.WriteString("{}")
				} else {
					g.object(f.shape, depth+1)
				}
			}
			g.buf.WriteByte(']')
		}
	}
}

// anyJSON writes any JSON value, less deep the deeper it is.
func (g *docGen) anyJSON(depth int) {
	switch g.rnd.IntN(max(3, 8-depth)) {
	case 0, 1, 2:
		g.buf.WriteString(g.pick(scalarValues))
	case 3:
		g.buf.WriteString(g.pick([]string{`[]`, `{}`}))
	case 4, 5:
		g.buf.WriteByte('[')
		for i := range g.rnd.IntN(3) {
			if i > 0 {
				g.buf.WriteByte(',')
			}
			g.anyJSON(depth + 1)
		}
		g.buf.WriteByte(']')
	default:
		g.buf.WriteByte('{')
		for i := range g.rnd.IntN(3) {
			if i > 0 {
				g.buf.WriteByte(',')
			}
			fmt.Fprintf(&g.buf, `"k%d":`, i)
			g.anyJSON(depth + 1)
		}
		g.buf.WriteByte('}')
	}
}

// equalJSON reports whether a and b hold the same JSON value: members in
// any order, strings compared after unescaping, numbers as written.
func equalJSON(a, b []byte) bool {
	va, errA := decodeNumbers(a)
	vb, errB := decodeNumbers(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// roundTrip decodes doc, encodes it, and checks that a second round gives
// the same bytes. It returns the first encoding.
func roundTrip(t *testing.T, doc []byte) []byte {
	t.Helper()
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal(doc, &c), "%s", doc)
	once, err := json.Marshal(c)
	require.NoError(t, err, "%s", doc)
	var again cloudapi.Cluster
	require.NoError(t, json.Unmarshal(once, &again), "%s", once)
	twice, err := json.Marshal(again)
	require.NoError(t, err)
	require.Equal(t, string(once), string(twice), "encoding is idempotent")
	return once
}

func TestClusterRoundTripIsTheIdentity(t *testing.T) {
	t.Parallel()
	g := &docGen{rnd: rand.New(rand.NewPCG(20240501, 1))}
	for i := range 1000 {
		doc := g.cluster()
		out := roundTrip(t, doc)
		if !equalJSON(out, doc) {
			t.Fatalf("document %d changed by a round trip\nread    %s\nwritten %s", i, doc, out)
		}

		var c cloudapi.Cluster
		require.NoError(t, json.Unmarshal(doc, &c))
		patch, err := cloudapi.SpecPatch(c.Spec, c.Spec)
		require.NoError(t, err, "document %d: %s", i, doc)
		require.JSONEq(t, `{}`, string(patch), "an unchanged spec needs no patch")
	}
}

// The generator must reach the cases it is for; a generator that lost
// them would make the test above pass for nothing.
func TestClusterGeneratorCoversTheHardCases(t *testing.T) {
	t.Parallel()
	g := &docGen{rnd: rand.New(rand.NewPCG(20240501, 1))}
	var all strings.Builder
	for range 300 {
		all.Write(g.cluster())
	}
	for _, want := range []string{`"awsKeyPair":""`, `"replicas":null`, `"replicas":3.0`, `"resourceVersion":"42"`,
		`"timestamp":1714557600000`, `"timestamp":"2024-05-01T10:00:00"`, `"labels":`, `"master":null`,
		`"awsTags":[]`, `"encrypt":false`, `"tier1":{}`, `"cancellable":""`} {
		require.Contains(t, strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(all.String()), want)
	}
}

// FuzzClusterRoundTrip: for any cluster document that decodes,
// encode(decode(x)) decodes and encodes to the same bytes, and is the same
// JSON value as x. Excluded: documents that are not objects, and member
// names that match a known name only when case is ignored (read into the
// field and written under its name, see extra.go).
//
//	go test -run='^$' -fuzz=FuzzClusterRoundTrip -fuzztime=30s ./internal/cloudapi
func FuzzClusterRoundTrip(f *testing.F) {
	g := &docGen{rnd: rand.New(rand.NewPCG(1, 2))}
	for range 30 {
		f.Add(g.cluster())
	}
	for _, doc := range demoDocuments(f) {
		f.Add([]byte(doc))
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(unreadableTenantList), &list); err != nil {
		f.Fatal(err)
	}
	for _, doc := range list {
		f.Add([]byte(doc))
	}
	f.Add([]byte(tenantDocument))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if v, err := decodeNumbers(doc); err != nil || !isObject(v) || hasCaseVariantName(v) {
			return
		}
		var c cloudapi.Cluster
		if json.Unmarshal(doc, &c) != nil {
			return
		}
		out := roundTrip(t, doc)
		if !equalJSON(out, doc) {
			t.Fatalf("changed by a round trip\nread    %s\nwritten %s", doc, out)
		}
	})
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// knownNames are the member names of every shape.
var knownNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	var walk func(*shape)
	walk = func(s *shape) {
		for _, f := range s.fields {
			names[f.name] = true
			if f.shape != nil {
				walk(f.shape)
			}
		}
	}
	walk(clusterShape)
	return names
})

// hasCaseVariantName reports whether v has, at any depth, a member name
// that equals a known name only when case is ignored.
func hasCaseVariantName(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, member := range v {
			if !knownNames()[k] {
				for known := range knownNames() {
					if strings.EqualFold(k, known) {
						return true
					}
				}
			}
			if hasCaseVariantName(member) {
				return true
			}
		}
	case []any:
		for _, item := range v {
			if hasCaseVariantName(item) {
				return true
			}
		}
	}
	return false
}

// demoDocuments are the simulator's demo clusters as it serves them.
func demoDocuments(tb testing.TB) []json.RawMessage {
	tb.Helper()
	s, err := sim.New(sim.Config{ClientID: "portal", ClientSecret: "portal-secret", SeedDemo: true})
	require.NoError(tb, err)
	server := httptest.NewServer(s)
	defer func() {
		server.Close()
		require.NoError(tb, s.Close())
	}()
	capture := &bodyCapture{next: http.DefaultTransport}
	client, err := cloudapi.New(cloudapi.Config{BaseURL: s.APIURL(server.URL), TokenURL: s.TokenURL(server.URL),
		ClientID: "portal", ClientSecret: "portal-secret", HTTPClient: &http.Client{Transport: capture}})
	require.NoError(tb, err)
	clusters, err := client.ListClusters(ctx)
	require.NoError(tb, err)
	require.NotEmpty(tb, clusters)
	var docs []json.RawMessage
	require.NoError(tb, json.Unmarshal(capture.last, &docs))
	return docs
}

// bodyCapture keeps the body of the last reply.
type bodyCapture struct {
	next http.RoundTripper
	last []byte
}

func (c *bodyCapture) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.last = body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
