package handlers

import (
	"html"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/auth"
	"github.com/clusterdesk/clusterdesk/internal/auth/devidp"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi/simtest"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/worker"
)

// newChangeApproversFixture is newDecideFixture with the approver role
// granted by change-approvers (PORTAL_APPROVER_GROUPS=change-approvers),
// while the seeded policies still name approvers.
func newChangeApproversFixture(t *testing.T) *decideFixture {
	t.Helper()
	s, client := simtest.Start(t, 5*time.Millisecond)
	rules, err := inventory.ParseNameRules("-dev$=development")
	require.NoError(t, err)
	roles := auth.RoleGroups{Requester: []string{"developers"}, Approver: []string{"change-approvers"},
		Admin: []string{"admins"}, Auditor: []string{"auditors"}}
	cf := &clusterFixture{signinEnv: newSigninEnv(t, signinOptions{roles: &roles}), sim: s, client: client}
	cf.syncer = inventory.NewSyncer(cf.pool, client, inventory.Config{Rules: inventory.Rules{Environments: rules}})
	cf.sync()
	f := &decideFixture{clusterFixture: cf}
	enqueue, err := worker.Enqueuer(f.pool)
	require.NoError(t, err)
	f.service = approvals.New(f.pool, approvals.Config{OnApproved: enqueue})
	f.server.deps.Approvals = f.service
	f.server.deps.Inventory = f.syncer
	return f
}

// signedInWith signs username in with the provider saying groups.
func (f *decideFixture) signedInWith(username string, groups ...string) *browser {
	f.t.Helper()
	f.idp.SetIDTokenTweak(devidp.SetClaim(devidp.GroupsClaim, groups))
	defer f.idp.SetIDTokenTweak(nil)
	b, _ := f.signedIn(username)
	return b
}

// TestApproverEligibilityQueueAndActionsAgree: the Approvals entry, the
// queue, the approve button and the approve and reject actions give one
// answer per person: the approver role and a group of the policy.
func TestApproverEligibilityQueueAndActionsAgree(t *testing.T) {
	t.Parallel()
	f := newChangeApproversFixture(t)
	_, aliceID := f.signedIn("alice")
	r := f.file(aliceID, "Alice Anderson", approvals.KindStart, "clickstream-dev", "Testing") // default: 1 from approvers
	listed := `data-id="` + strconv.FormatInt(r.ID, 10) + `"`

	refused := func(t *testing.T, b *browser) {
		t.Helper()
		page := html.UnescapeString(b.get(requestPath(r.ID)).body)
		require.NotContains(t, page, `data-testid="approve-button"`)
		require.NotContains(t, page, `data-testid="reject-form"`)
		resp := b.postOnce(requestPath(r.ID, "approve"), decisionValues(b, r.Revision.Number, ""))
		require.Equal(t, http.StatusForbidden, resp.status, resp.body)
		resp = b.postOnce(requestPath(r.ID, "reject"), decisionValues(b, r.Revision.Number, "No"))
		require.Equal(t, http.StatusForbidden, resp.status, resp.body)
		require.Equal(t, approvals.StatePending, f.state(r.ID))
		require.Zero(t, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1`, r.ID))
	}

	t.Run("in the policy's group without the role", func(t *testing.T) {
		// developers makes her a requester: with approvers alone she would
		// hold no role and see only the no-access page.
		carol := f.signedInWith("carol", "developers", "approvers")
		require.NotContains(t, carol.get("/").body, `data-testid="nav-approvals"`)
		require.Equal(t, http.StatusForbidden, carol.get("/approvals").status)
		require.Contains(t, html.UnescapeString(carol.get(requestPath(r.ID)).body), "You do not hold the approver role")
		refused(t, carol)
	})

	t.Run("with the role outside the policy's groups", func(t *testing.T) {
		erin := f.signedInWith("erin", "change-approvers")
		require.Contains(t, erin.get("/").body, `data-testid="nav-approvals"`)
		queue := erin.get("/approvals")
		require.Equal(t, http.StatusOK, queue.status, queue.body)
		require.NotContains(t, queue.body, listed)
		require.Contains(t, html.UnescapeString(erin.get(requestPath(r.ID)).body), "You are not in an approver group of this request's policy")
		refused(t, erin)
	})

	t.Run("with the role and in the policy's group", func(t *testing.T) {
		bob := f.signedInWith("bob", "approvers", "change-approvers")
		require.Contains(t, bob.get("/").body, `data-testid="nav-approvals"`)
		queue := bob.get("/approvals")
		require.Equal(t, http.StatusOK, queue.status, queue.body)
		require.Contains(t, queue.body, listed)
		require.Contains(t, bob.get(requestPath(r.ID)).body, `data-testid="approve-button"`)
		resp := bob.postOnce(requestPath(r.ID, "approve"), decisionValues(bob, r.Revision.Number, ""))
		require.Equal(t, http.StatusSeeOther, resp.status, resp.body)
		require.Equal(t, approvals.StateApproved, f.state(r.ID))
		require.Equal(t, 1, f.count(`SELECT count(*) FROM approvals WHERE request_id = $1 AND decision = 'approve'`, r.ID))
	})
}
