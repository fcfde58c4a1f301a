package auth_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/testdb"
)

func TestPeopleMatching(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ids := map[string]int64{}
	for _, p := range []struct{ username, name string }{
		{"alice", "Alice Anderson"}, {"alan", "Alan Turing"}, {"bob", "Bob Brown"}, {"zed", ""}, {"x_y", "Percent 100%"},
	} {
		var id int64
		require.NoError(t, pool.QueryRow(t.Context(), `
			INSERT INTO users (issuer, subject, username, name, last_login_at) VALUES ('https://idp', $1, $1, $2, now())
			RETURNING id`, p.username, p.name).Scan(&id))
		ids[p.username] = id
	}
	for _, tt := range []struct {
		text  string
		want  []string
		match auth.PersonMatch
	}{
		{"alice", []string{"alice"}, auth.MatchUsername},
		{"ALICE", []string{"alice"}, auth.MatchUsername},
		{"alice anderson", []string{"alice"}, auth.MatchName},
		{"  Bob Brown ", []string{"bob"}, auth.MatchName},
		{"Ander", []string{"alice"}, auth.MatchPartial},
		{"al", []string{"alan", "alice"}, auth.MatchPartial}, // by name: Alan Turing, Alice Anderson
		{"zed", []string{"zed"}, auth.MatchUsername},
		{"100%", []string{"x_y"}, auth.MatchPartial}, // % is a character, not a wildcard
		{"_", []string{"x_y"}, auth.MatchPartial},    // so is _
		{"nobody", nil, ""},
		{"", nil, ""},
	} {
		people, match, err := auth.PeopleMatching(t.Context(), pool, tt.text)
		require.NoError(t, err, tt.text)
		var got []string
		for _, p := range people {
			got = append(got, p.Username)
		}
		require.Equal(t, tt.want, got, tt.text)
		require.Equal(t, tt.match, match, tt.text)
	}
	byID, match, err := auth.PeopleMatching(t.Context(), pool, "  "+peopleIDText(ids["bob"]))
	require.NoError(t, err)
	require.Equal(t, auth.MatchID, match)
	require.Equal(t, "Bob Brown", byID[0].DisplayName())

	found, err := auth.PeopleByID(t.Context(), pool, []int64{ids["zed"], ids["alan"], 999999})
	require.NoError(t, err)
	require.Len(t, found, 2)
	require.Equal(t, "zed", found[ids["zed"]].DisplayName(), "no display name: the username")

	all, err := auth.PeopleDirectory(t.Context(), pool, 3)
	require.NoError(t, err)
	require.Equal(t, []string{"Alan Turing", "Alice Anderson", "Bob Brown"},
		[]string{all[0].DisplayName(), all[1].DisplayName(), all[2].DisplayName()})
}

func peopleIDText(n int64) string { return strconv.FormatInt(n, 10) }
