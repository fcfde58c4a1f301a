package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
)

// A refusal of the team rules answers 403 with what would grant it, as the
// pages say it; other refusals keep their own code.
func TestProblemOfARefusal(t *testing.T) {
	t.Parallel()
	reason := "deletes on team analytics' clusters need a member of analytics-leads"
	p := problemOf(fmt.Errorf("approvals: file delete request: %w", &approvals.Refusal{Reason: reason}))
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Equal(t, "not-permitted", p.Code)
	require.Equal(t, reason, p.Detail)

	p = problemOf(fmt.Errorf("approvals: approve request 3: %w", approvals.ErrOwnRequest))
	require.Equal(t, "four-eyes", p.Code)
}
