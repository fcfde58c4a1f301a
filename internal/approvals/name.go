package approvals

import (
	"context"
	"fmt"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// NameTakenError refuses a new cluster's name that is in use: a cluster in
// the inventory has it (ClusterUID), or another open create request asks
// for it (RequestID). Exactly one of the two is set. It matches
// ErrConflict.
//
// A deleted cluster's name is free: the inventory keeps deleted clusters
// (for their history) but Cloud Manager no longer lists them, so a new
// cluster of that name is found without ambiguity when it is created.
// Cloud Manager itself does not document names as unique
// (docs/cloud-manager-api/BEHAVIOUR.md §9); the portal requires it, as it
// finds a created cluster by its name and people tell clusters apart by it.
type NameTakenError struct {
	Name       string
	ClusterUID string
	RequestID  int64
}

func (e *NameTakenError) Error() string {
	if e.RequestID != 0 {
		return fmt.Sprintf("%s: request %d already asks to create a cluster named %q", ErrConflict, e.RequestID, e.Name)
	}
	return fmt.Sprintf("%s: a cluster named %q exists (%s)", ErrConflict, e.Name, e.ClusterUID)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *NameTakenError) Unwrap() error { return ErrConflict }

// Violation is the refusal as a problem of the name field
// (target metadata.name), in words for the person filling the form.
func (e *NameTakenError) Violation() Violation {
	msg := fmt.Sprintf("A cluster named %s already exists. Choose another name.", e.Name)
	if e.RequestID != 0 {
		msg = fmt.Sprintf("Request %d already asks to create a cluster named %s. Choose another name.", e.RequestID, e.Name)
	}
	return Violation{Target: "metadata.name", Code: cloudapi.CodeMalformedValue, Message: msg}
}

// CheckName applies the rule for a new cluster's name that needs the
// inventory, for a form that checks as the person types: no existing
// cluster (deleted ones aside) and no other open create request (request
// self aside; 0 when filing) may have it. The name is compared exactly,
// spaces around it trimmed. It returns nil, a *NameTakenError, or the
// database's error. Create, Edit and Approve apply the same rule in their
// transactions.
func (s *Service) CheckName(ctx context.Context, name string, self int64) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil // ValidateCreate says it is missing
	}
	if err := checkNameFree(ctx, s.pool, name, self); err != nil {
		return fmt.Errorf("approvals: check name %q: %w", name, err)
	}
	return nil
}
