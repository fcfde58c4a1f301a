package execution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
)

// kind is how execution handles one kind of change request. Every kind
// that can be filed has an entry in kinds; nothing else in this package
// switches on the kind. What the domain knows of a kind (what it acts on,
// how its revision is drafted) is its entry in internal/approvals/kind.go.
type kind struct {
	// send builds the call that applies r's change. live is the cluster as
	// read before the attempt (nil for a create): the resource version the
	// request was reviewed at, so a body built from it is the reviewed
	// document.
	send func(r approvals.Request, live *cloudapi.Cluster, b cloudapi.Behaviour) (call, error)
	// wholeDocument: the attempt needs the cluster's whole document
	// (metadata and members the client does not know), read with a GET of
	// its own rather than through the inventory's copy.
	wholeDocument bool
	// applied reports whether r's change is already in live, the cluster
	// as read now (nil: no such cluster; for a create, the one found by
	// name), after an attempt whose answer was lost.
	applied func(r approvals.Request, live *cloudapi.Cluster, b cloudapi.Behaviour) (bool, error)
	// sendsAgain: whether the change may be sent again once an attempt of
	// unknown outcome has settled (Options.SettleTime) without its effect
	// showing. Not for a create: that could make a second cluster.
	sendsAgain bool
	// notFoundIsDone: a 404 answer means the change is done (a delete
	// whose cluster is already gone).
	notFoundIsDone bool
	// converged reports whether c, settled (not busy, healthy), shows r's
	// change done; gone means the API no longer has the cluster.
	converged func(r approvals.Request, sub Submission, c inventory.Cluster, gone bool, b cloudapi.Behaviour) bool
}

var kinds = map[approvals.Kind]kind{
	approvals.KindCreate: {
		send: sendCreate,
		applied: func(_ approvals.Request, live *cloudapi.Cluster, _ cloudapi.Behaviour) (bool, error) {
			return live != nil, nil
		},
		converged: running,
	},
	approvals.KindUpdate:   patchKind,
	approvals.KindStop:     patchKind,
	approvals.KindStart:    patchKind,
	approvals.KindRollback: replaceKind,
	approvals.KindReplace:  replaceKind,
	approvals.KindDelete: {
		send: sendDelete,
		applied: func(_ approvals.Request, live *cloudapi.Cluster, _ cloudapi.Behaviour) (bool, error) {
			return live == nil, nil
		},
		sendsAgain:     true,
		notFoundIsDone: true,
		converged: func(_ approvals.Request, _ Submission, _ inventory.Cluster, gone bool, _ cloudapi.Behaviour) bool {
			return gone
		},
	},
	approvals.KindRestartServer: {
		send:       sendRestart,
		applied:    restarted,
		sendsAgain: true,
		converged: func(r approvals.Request, _ Submission, c inventory.Cluster, _ bool, _ cloudapi.Behaviour) bool {
			_, still := c.Server(r.Revision.Payload.InstanceID)
			return !still
		},
	},
}

// patchKind sends the reviewed merge patch (update, stop, start).
var patchKind = kind{send: sendPatch, applied: patchApplied, sendsAgain: true, converged: atNewVersion}

// replaceKind sends the whole reviewed spec with a PUT (rollback,
// replace), inside the cluster's document as it is.
var replaceKind = kind{send: sendReplace, wholeDocument: true, applied: specApplied, sendsAgain: true, converged: atNewVersion}

// kindOf returns the behaviour of r's kind. Errors: a kind with no entry.
func kindOf(r approvals.Request) (kind, error) {
	k, ok := kinds[r.Kind]
	if !ok {
		return kind{}, fmt.Errorf("requests of kind %s cannot be submitted", r.Kind)
	}
	return k, nil
}

// createsCluster reports whether r makes a new cluster (a create): known
// by its name until the API names its uid, looked for by name after a lost
// answer, queued behind other changes of that name.
func createsCluster(r approvals.Request) bool { return !r.Kind.OnCluster() }

// call is one API call that may change a cluster.
type call struct {
	operation    cloudapi.Operation
	method, path string
	body         []byte
	do           func(ctx context.Context, api API) (*cloudapi.Cluster, error)
}

func sendCreate(r approvals.Request, _ *cloudapi.Cluster, _ cloudapi.Behaviour) (call, error) {
	if r.Revision.ProposedSpec == nil {
		return call{}, errors.New("create request without a spec")
	}
	cluster := &cloudapi.Cluster{Metadata: cloudapi.ObjectMeta{Name: r.ClusterName}, Spec: *r.Revision.ProposedSpec}
	body, err := json.Marshal(cluster)
	return call{operation: cloudapi.OpCreateCluster, method: http.MethodPost, path: "/clusters", body: body,
		do: func(ctx context.Context, api API) (*cloudapi.Cluster, error) { return api.CreateCluster(ctx, cluster) },
	}, err
}

func sendPatch(r approvals.Request, live *cloudapi.Cluster, _ cloudapi.Behaviour) (call, error) {
	patch, err := r.Revision.Patch()
	if err != nil {
		return call{}, err
	}
	uid, opts := r.ClusterUID, hardUpdate(r)
	return call{operation: cloudapi.OpUpdateCluster, method: http.MethodPatch, path: "/clusters/" + uid, body: patch,
		do: func(ctx context.Context, api API) (*cloudapi.Cluster, error) {
			return api.UpdateCluster(ctx, uid, patch, opts...)
		},
	}, nil
}

// sendReplace puts the reviewed spec into the cluster's document as read
// (its metadata and unknown members kept), so the PUT changes nothing but
// the reviewed spec. Approvals made sure the spec has
// spec.pivot.accessMode, without which the service answers 500.
func sendReplace(r approvals.Request, live *cloudapi.Cluster, _ cloudapi.Behaviour) (call, error) {
	spec := r.Revision.ProposedSpec
	if spec == nil || spec.Pivot == nil || spec.Pivot.AccessMode == "" {
		return call{}, errors.New("a replacing request needs a spec with spec.pivot.accessMode")
	}
	doc := *live
	doc.Metadata.UID = ""
	doc.Status = nil
	doc.Spec = *spec
	body, err := json.Marshal(doc)
	uid, opts := r.ClusterUID, hardUpdate(r)
	return call{operation: cloudapi.OpReplaceCluster, method: http.MethodPut, path: "/clusters/" + uid, body: body,
		do: func(ctx context.Context, api API) (*cloudapi.Cluster, error) {
			return api.ReplaceCluster(ctx, uid, &doc, opts...)
		},
	}, err
}

func sendDelete(r approvals.Request, _ *cloudapi.Cluster, _ cloudapi.Behaviour) (call, error) {
	uid := r.ClusterUID
	return call{operation: cloudapi.OpDeleteCluster, method: http.MethodDelete, path: "/clusters/" + uid,
		do: func(ctx context.Context, api API) (*cloudapi.Cluster, error) { return nil, api.DeleteCluster(ctx, uid) },
	}, nil
}

func sendRestart(r approvals.Request, _ *cloudapi.Cluster, b cloudapi.Behaviour) (call, error) {
	uid, instance := r.ClusterUID, r.Revision.Payload.InstanceID
	method, path, err := b.RestartRequest(uid, instance)
	return call{operation: cloudapi.OpRestartServer, method: method, path: path,
		do: func(ctx context.Context, api API) (*cloudapi.Cluster, error) {
			return nil, api.RestartServer(ctx, uid, instance)
		},
	}, err
}

// hardUpdate is force=true when the request carries the reviewed choice
// of a hard update, and nothing otherwise.
func hardUpdate(r approvals.Request) []cloudapi.Option {
	if r.Revision.Payload.HardUpdate {
		return []cloudapi.Option{cloudapi.Force()}
	}
	return nil
}

// patchApplied: merging the patch into the live spec again changes
// nothing.
func patchApplied(r approvals.Request, live *cloudapi.Cluster, _ cloudapi.Behaviour) (bool, error) {
	if live == nil {
		return false, nil
	}
	patch, err := r.Revision.Patch()
	if err != nil {
		return false, err
	}
	doc, err := json.Marshal(cloudapi.Cluster{Spec: live.Spec})
	if err != nil {
		return false, err
	}
	merged, err := cloudapi.ApplyMergePatch(doc, patch)
	if err != nil {
		return false, err
	}
	return sameJSON(doc, merged), nil
}

// specApplied: the live spec is the one sent. When the API fills defaults
// into what it stores, the live spec may have members the request did not
// send: then every member sent must be there with its value.
func specApplied(r approvals.Request, live *cloudapi.Cluster, b cloudapi.Behaviour) (bool, error) {
	if live == nil {
		return false, nil
	}
	if r.Revision.ProposedSpec == nil {
		return false, errors.New("a replacing request without a spec")
	}
	want, err := json.Marshal(r.Revision.ProposedSpec)
	if err != nil {
		return false, err
	}
	have, err := json.Marshal(live.Spec)
	if err != nil {
		return false, err
	}
	if b.FillsDefaults {
		return containsJSON(have, want), nil
	}
	return sameJSON(want, have), nil
}

// restarted: the server restarted is gone from the cluster (a restart
// replaces it with a new instance).
func restarted(r approvals.Request, live *cloudapi.Cluster, _ cloudapi.Behaviour) (bool, error) {
	if live == nil || live.Status == nil {
		return false, nil
	}
	for _, s := range live.Status.Servers {
		if s.InstanceID == r.Revision.Payload.InstanceID {
			return false, nil
		}
	}
	return true, nil
}

// running: a created or started cluster runs.
func running(_ approvals.Request, _ Submission, c inventory.Cluster, _ bool, b cloudapi.Behaviour) bool {
	return b.Running(c.State)
}

// atNewVersion: the cluster is past the reviewed resource version, at
// least at the one the accepted change announced, and in the state the
// request's spec asks for (running or stopped).
func atNewVersion(r approvals.Request, sub Submission, c inventory.Cluster, _ bool, b cloudapi.Behaviour) bool {
	if c.ResourceVersion < sub.TargetResourceVersion || c.ResourceVersion == r.Revision.BaseResourceVersion {
		return false
	}
	desired := c.Spec.DesiredState
	if p := r.Revision.ProposedSpec; p != nil && p.DesiredState != "" {
		desired = p.DesiredState
	}
	switch desired {
	case cloudapi.DesiredStopped:
		return b.Stopped(c.State)
	case cloudapi.DesiredStarted:
		return b.Running(c.State)
	}
	return true
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ca, _ := json.Marshal(x)
	cb, _ := json.Marshal(y)
	return bytes.Equal(ca, cb)
}

// containsJSON reports whether every member of want, at every depth, is in
// have with the same value (arrays compare whole).
func containsJSON(have, want []byte) bool {
	var h, w any
	if json.Unmarshal(have, &h) != nil || json.Unmarshal(want, &w) != nil {
		return false
	}
	return contains(h, w)
}

func contains(have, want any) bool {
	wm, ok := want.(map[string]any)
	if !ok {
		a, _ := json.Marshal(have)
		b, _ := json.Marshal(want)
		return bytes.Equal(a, b)
	}
	hm, ok := have.(map[string]any)
	if !ok {
		return false
	}
	for k, wv := range wm {
		hv, ok := hm[k]
		if !ok || !contains(hv, wv) {
			return false
		}
	}
	return true
}
