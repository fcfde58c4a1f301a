package cloudapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplyMergePatch(t *testing.T) {
	t.Parallel()
	// The examples of RFC 7386, Appendix A, and the documented stop patch.
	for _, tc := range []struct{ doc, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{`{"spec":{"desiredState":"STARTED","version":"2021.06"}}`, `{"spec":{"desiredState":"STOPPED"}}`, `{"spec":{"desiredState":"STOPPED","version":"2021.06"}}`},
	} {
		got, err := ApplyMergePatch([]byte(tc.doc), []byte(tc.patch))
		require.NoError(t, err, "%s + %s", tc.doc, tc.patch)
		require.JSONEq(t, tc.want, string(got), "%s + %s", tc.doc, tc.patch)
	}

	_, err := ApplyMergePatch([]byte(`{`), []byte(`{}`))
	require.Error(t, err)
	_, err = ApplyMergePatch([]byte(`{}`), []byte(`{} {}`))
	require.Error(t, err, "trailing data")
}

func TestCreateMergePatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ original, target, want string }{
		{`{"a":1,"b":2}`, `{"a":1,"b":2}`, `{}`},
		{`{"a":1,"b":2}`, `{"a":1}`, `{"b":null}`},
		{`{"a":{"x":1,"y":2}}`, `{"a":{"x":1,"y":3}}`, `{"a":{"y":3}}`},
		{`{"a":[1,2]}`, `{"a":[1,2,3]}`, `{"a":[1,2,3]}`},
		{`{"a":"s"}`, `{"a":{"x":1}}`, `{"a":{"x":1}}`},
		{`{"a":{"x":1}}`, `{"a":[]}`, `{"a":[]}`},
		{`[1]`, `{"a":1}`, `{"a":1}`},
		{`{"a":1}`, `[1]`, `[1]`},
		{`{"a":[{"n":null}]}`, `{"a":[{"n":null},1]}`, `{"a":[{"n":null},1]}`},
		{`{"big":12345678901234567890}`, `{"big":12345678901234567891}`, `{"big":12345678901234567891}`},
	} {
		got, err := CreateMergePatch([]byte(tc.original), []byte(tc.target))
		require.NoError(t, err)
		require.JSONEq(t, tc.want, string(got), "%s -> %s", tc.original, tc.target)
		require.Equal(t, tc.want, string(got), "numbers and members come out as written, sorted, compact")
	}

	_, err := CreateMergePatch([]byte(`{"a":1}`), []byte(`{"a":null}`))
	require.ErrorIs(t, err, ErrUnrepresentable)
	_, err = CreateMergePatch([]byte(`{}`), []byte(`{"a":{"b":null}}`))
	require.ErrorIs(t, err, ErrUnrepresentable)
	_, err = CreateMergePatch([]byte(`{"a":1}`), []byte(`{"a":{"b":null}}`))
	require.ErrorIs(t, err, ErrUnrepresentable)

	// A null the original has already is left alone, so it is no obstacle.
	for _, tc := range []struct{ original, target, want string }{
		{`{"a":null}`, `{"a":null}`, `{}`},
		{`{"m":{"r":null,"t":"x"}}`, `{"m":{"r":null,"t":"y"}}`, `{"m":{"t":"y"}}`},
		{`{"m":{"r":null}}`, `{"m":{"r":3}}`, `{"m":{"r":3}}`},
		{`{"m":{"r":null}}`, `{"m":{}}`, `{"m":{"r":null}}`},
	} {
		got, err := CreateMergePatch([]byte(tc.original), []byte(tc.target))
		require.NoError(t, err, "%s -> %s", tc.original, tc.target)
		require.JSONEq(t, tc.want, string(got), "%s -> %s", tc.original, tc.target)
		applied, err := ApplyMergePatch([]byte(tc.original), got)
		require.NoError(t, err)
		require.JSONEq(t, tc.target, string(applied))
	}
}

func TestSpecPatch(t *testing.T) {
	t.Parallel()
	three, one := int32(3), int32(1)
	from := ClusterSpec{Version: "2021.06", Master: &MasterConfig{Replicas: &one}, FeatureFlags: []string{"a"}}
	to := ClusterSpec{Version: "2021.06", Master: &MasterConfig{Replicas: &three}, DesiredState: DesiredStopped}
	patch, err := SpecPatch(from, to)
	require.NoError(t, err)
	require.JSONEq(t, `{"spec":{"master":{"replicas":3},"desiredState":"STOPPED","featureFlags":null}}`, string(patch))

	patch, err = SpecPatch(from, from)
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(patch))
}

// FuzzMergePatch checks that the computed patch turns the base into the
// target: ApplyMergePatch(base, CreateMergePatch(base, target)) == target,
// that applying it twice changes nothing more (merge patches are
// idempotent), and that equal objects give "{}". A target holding a null
// object member the base lacks cannot be expressed (RFC 7386 reads null as
// "delete"): the function may refuse only targets with a null member, and
// every patch it gives must work.
//
//	go test -run='^$' -fuzz=FuzzMergePatch -fuzztime=5s ./internal/cloudapi
func FuzzMergePatch(f *testing.F) {
	for _, seed := range [][2]string{
		{`{}`, `{}`},
		{`{"a":"b"}`, `{"a":"c"}`},
		{`{"a":"b","b":"c"}`, `{"b":"c"}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","e":[1,2]}}`},
		{`{"a":[1,2]}`, `{"a":{"0":1}}`},
		{`["a"]`, `{"a":1}`},
		{`{"a":1}`, `"x"`},
		{`null`, `{"a":{"b":{}}}`},
		{`{"a":{"b":1}}`, `{"a":{"b":null}}`},
		{`{"a":[{"b":null}]}`, `{"a":[{"b":null}],"c":1.50}`},
		{`{"metadata":{"name":"test-1"},"spec":{"desiredState":"STARTED","data":{"tier1":{"replicas":1}}}}`,
			`{"metadata":{"name":"test-1"},"spec":{"desiredState":"STOPPED","data":{"tier1":{"replicas":2}},"x":{"y":[]}}}`},
		{`{"a":"\u00e9","b":"<&>"}`, `{"a":"é","b":"<&>","c":-0.0e+1}`},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, base, target []byte) {
		if !json.Valid(base) || !json.Valid(target) {
			return
		}
		patch, err := CreateMergePatch(base, target)
		if errors.Is(err, ErrUnrepresentable) {
			want, _ := decodeJSON(target)
			if !hasNullMember(want) {
				t.Fatalf("refused a representable target %s", target)
			}
			return
		}
		if err != nil {
			t.Fatalf("CreateMergePatch(%s, %s): %v", base, target, err)
		}
		got, err := ApplyMergePatch(base, patch)
		if err != nil {
			t.Fatalf("ApplyMergePatch(%s, %s): %v", base, patch, err)
		}
		if !equalJSON(got, target) {
			t.Fatalf("base %s\npatch %s\ngot %s\nwant %s", base, patch, got, target)
		}
		again, err := ApplyMergePatch(got, patch)
		if err != nil || !equalJSON(again, got) {
			t.Fatalf("applying %s twice gave %s, want %s (err %v)", patch, again, got, err)
		}
		if b, _ := decodeJSON(base); isObject(b) && equalJSON(base, target) && string(patch) != "{}" {
			t.Fatalf("equal objects gave the patch %s, want {}", patch)
		}
	})
}

// equalJSON reports whether a and b hold the same JSON value (member order
// and spacing aside; numbers compare as written).
func equalJSON(a, b []byte) bool {
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}
