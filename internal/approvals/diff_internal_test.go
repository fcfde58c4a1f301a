package approvals

import (
	"context"
	"testing"

	"github.com/clusterdesk/clusterdesk/internal/testdb"

	"github.com/stretchr/testify/require"
)

func TestOverlaps(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"spec.version", "spec.version", true},
		{"spec.data.tier1", "spec.data.tier1.replicas", true},
		{"spec.data.tier1.replicas", "spec.data.tier1", true},
		{`spec.awsTags`, `spec.awsTags["team"]`, true},
		{"spec.data.tier1", "spec.data.tier10", false},
		{"spec.master.replicas", "spec.query.replicas", false},
		{`spec.awsTags["a"]`, `spec.awsTags["b"]`, false},
	} {
		require.Equal(t, tc.want, overlaps(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
		var inSQL bool
		require.NoError(t, pool.QueryRow(context.Background(),
			`SELECT `+pathsOverlapSQL+` FROM (SELECT $1::text AS a, $2::text AS b) pair`, tc.a, tc.b).Scan(&inSQL))
		require.Equal(t, tc.want, inSQL, "%s vs %s in SQL (the collision check's)", tc.a, tc.b)
	}
}

func TestDiffHashBindsEverythingApproved(t *testing.T) {
	t.Parallel()
	d := Diff{{Path: "spec.version", Before: []byte(`"1"`), After: []byte(`"2"`)}}
	h := diffHash(KindUpdate, "u-1", "c", Payload{}, d)
	require.Equal(t, h, diffHash(KindUpdate, "u-1", "c", Payload{}, Diff{{Path: "spec.version", Before: []byte(`"1"`), After: []byte(`"2"`)}}), "deterministic")
	require.Len(t, h.String(), 64)
	require.Equal(t, h.String()[:12], h.Short())
	for name, other := range map[string]Hash{
		"kind":    diffHash(KindCreate, "u-1", "c", Payload{}, d),
		"cluster": diffHash(KindUpdate, "u-2", "c", Payload{}, d),
		"name":    diffHash(KindUpdate, "u-1", "d", Payload{}, d),
		"payload": diffHash(KindUpdate, "u-1", "c", Payload{InstanceID: "i-1"}, d),
		"after":   diffHash(KindUpdate, "u-1", "c", Payload{}, Diff{{Path: "spec.version", Before: []byte(`"1"`), After: []byte(`"3"`)}}),
		"empty":   diffHash(KindUpdate, "u-1", "c", Payload{}, nil),
	} {
		require.NotEqual(t, h, other, name)
	}
	require.Equal(t, diffHash(KindDelete, "u", "c", Payload{}, nil), diffHash(KindDelete, "u", "c", Payload{}, Diff{}))
}
