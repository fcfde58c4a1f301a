package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ErrAccessModeRequired is returned by ReplaceCluster when neither the new
// configuration nor the current cluster has spec.pivot.accessMode. The
// service answers such a PUT with 500, so the client does not send it.
var ErrAccessModeRequired = errors.New("cloudapi: replace needs spec.pivot.accessMode and the cluster has none to keep; set spec.pivot.accessMode")

// ListClusters returns every cluster of the account (no paging exists).
// Option: Pretty.
//
// Each listed cluster is decoded on its own, so one the client cannot read
// does not hide the others: it is returned with Unreadable set to the
// reason, Metadata.UID and Metadata.Name when they could be read, and a
// nil Status, and a warning is logged. The call fails only when the reply
// is not a JSON array.
func (c *Client) ListClusters(ctx context.Context, opts ...Option) ([]Cluster, error) {
	var items []json.RawMessage
	err := c.call(ctx, request{op: OpListClusters, method: http.MethodGet, path: "/clusters"}, opts, &items)
	if err != nil {
		return nil, err
	}
	clusters := make([]Cluster, len(items))
	for i, item := range items {
		if err := json.Unmarshal(item, &clusters[i]); err != nil {
			clusters[i] = unreadableCluster(item, err)
			c.log.WarnContext(ctx, "cloudapi: a listed cluster could not be read; it is returned as unreadable",
				"op", OpListClusters, "index", i, "uid", clusters[i].Metadata.UID, "name", clusters[i].Metadata.Name, "err", err)
		}
	}
	return clusters, nil
}

// unreadableCluster is what can be read of a cluster document that does
// not decode: its uid and name, when they are strings.
func unreadableCluster(doc json.RawMessage, err error) Cluster {
	c := Cluster{Unreadable: err.Error()}
	var top struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if json.Unmarshal(doc, &top) != nil {
		return c
	}
	_ = json.Unmarshal(top.Metadata["uid"], &c.Metadata.UID)   // left empty unless a string
	_ = json.Unmarshal(top.Metadata["name"], &c.Metadata.Name) // left empty unless a string
	return c
}

// GetCluster returns one cluster by its id (metadata.uid). Errors: an
// *APIError; IsNotFound for an unknown id. Option: Pretty.
func (c *Client) GetCluster(ctx context.Context, id string, opts ...Option) (*Cluster, error) {
	path, err := clusterPath(id)
	if err != nil {
		return nil, err
	}
	var cluster Cluster
	if err := c.call(ctx, request{op: OpGetCluster, method: http.MethodGet, path: path}, opts, &cluster); err != nil {
		return nil, err
	}
	return &cluster, nil
}

// CreateCluster asks for a new cluster with cluster's metadata and spec
// (metadata.uid and status are the service's and are not sent) and returns
// it as created: with its uid and an initial status (PENDING). With DryRun
// the configuration is only validated. A 400 carries per-field details (see
// APIError.FieldErrors).
//
// A nil cluster with a nil error means the service accepted the call
// without returning the cluster (a 2xx with an empty body, BEHAVIOUR.md
// §1); read it back, here by listing and looking for its name.
//
// Create is never retried once the request may have reached the service:
// after a retryable error, look for the cluster by name before creating it
// again. Options: DryRun, Pretty.
func (c *Client) CreateCluster(ctx context.Context, cluster *Cluster, opts ...Option) (*Cluster, error) {
	body, err := json.Marshal(writable(cluster))
	if err != nil {
		return nil, fmt.Errorf("cloudapi: createCluster: %w", err)
	}
	req := request{op: OpCreateCluster, method: http.MethodPost, path: "/clusters", body: body, contentType: "application/json"}
	return c.callForCluster(ctx, req, opts)
}

// UpdateCluster sends patch, a JSON merge patch (RFC 7386) such as
// {"spec":{"desiredState":"STOPPED"}}, and returns the cluster as merged;
// its status shows the update the change started. Build patch with
// SpecPatch or CreateMergePatch. Errors: IsBusy while the cluster applies
// another change, IsNotFound, a 400 with details. Options: DryRun, Force,
// Pretty.
//
// A nil cluster with a nil error means the service accepted the call
// without returning the cluster (a 2xx with an empty body, BEHAVIOUR.md
// §1); read it back with GetCluster.
//
// A retried PATCH is never applied twice: merging the same patch again
// changes nothing, and a cluster busy with the first attempt's update
// answers 409.
func (c *Client) UpdateCluster(ctx context.Context, id string, patch json.RawMessage, opts ...Option) (*Cluster, error) {
	path, err := clusterPath(id)
	if err != nil {
		return nil, err
	}
	if !json.Valid(patch) {
		return nil, errors.New("cloudapi: updateCluster: patch is not valid JSON")
	}
	req := request{op: OpUpdateCluster, method: http.MethodPatch, path: path, body: patch, contentType: "application/merge-patch+json"}
	return c.callForCluster(ctx, req, opts)
}

// ReplaceCluster replaces the whole configuration of cluster id with
// cluster's metadata and spec (unknown members in Extra included; uid and
// status are not sent) and returns the cluster as accepted.
//
// The service fails with 500 on a PUT without spec.pivot.accessMode, so the
// client never sends one: when spec.pivot is absent it keeps the current
// cluster's pivot settings, and when only accessMode is missing it takes
// the current one, both read with GetCluster. If the current cluster has no
// access mode either, it returns ErrAccessModeRequired without calling PUT.
// Options: DryRun, Force, Pretty.
//
// A nil cluster with a nil error means the service accepted the call
// without returning the cluster (a 2xx with an empty body, BEHAVIOUR.md
// §1); read it back with GetCluster.
func (c *Client) ReplaceCluster(ctx context.Context, id string, cluster *Cluster, opts ...Option) (*Cluster, error) {
	path, err := clusterPath(id)
	if err != nil {
		return nil, err
	}
	out := writable(cluster)
	if out.Spec.Pivot == nil || out.Spec.Pivot.AccessMode == "" {
		if out.Spec.Pivot, err = c.currentPivot(ctx, id, out.Spec.Pivot); err != nil {
			return nil, err
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("cloudapi: replaceCluster: %w", err)
	}
	req := request{op: OpReplaceCluster, method: http.MethodPut, path: path, body: body, contentType: "application/json"}
	return c.callForCluster(ctx, req, opts)
}

// currentPivot completes pivot (possibly nil) with the access mode of
// cluster id as it is now (BEHAVIOUR.md §6).
func (c *Client) currentPivot(ctx context.Context, id string, pivot *PivotAccess) (*PivotAccess, error) {
	current, err := c.GetCluster(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("cloudapi: replaceCluster: read current access mode: %w", err)
	}
	have := current.Spec.Pivot
	if have == nil || have.AccessMode == "" {
		return nil, ErrAccessModeRequired
	}
	if pivot == nil {
		kept := *have
		return &kept, nil
	}
	completed := *pivot
	completed.AccessMode = have.AccessMode
	return &completed, nil
}

// DeleteCluster removes cluster id. Errors: IsBusy while it applies a
// change, IsNotFound when it does not exist (which, after a retryable
// failure of an earlier attempt, means that attempt succeeded).
func (c *Client) DeleteCluster(ctx context.Context, id string) error {
	path, err := clusterPath(id)
	if err != nil {
		return err
	}
	return c.call(ctx, request{op: OpDeleteCluster, method: http.MethodDelete, path: path}, nil, nil)
}

// GetClusterVersion returns cluster id as it was at resourceVersion (see
// ClusterStatus.ResourceVersion). Errors: IsNotFound for an unknown cluster
// or version.
func (c *Client) GetClusterVersion(ctx context.Context, id string, resourceVersion int64) (*Cluster, error) {
	path, err := clusterPath(id)
	if err != nil {
		return nil, err
	}
	if resourceVersion < 0 {
		return nil, fmt.Errorf("cloudapi: getClusterVersion: resource version %d is negative", resourceVersion)
	}
	var cluster Cluster
	req := request{op: OpGetClusterVersion, method: http.MethodGet, path: path + "/history/" + strconv.FormatInt(resourceVersion, 10)}
	if err := c.call(ctx, req, nil, &cluster); err != nil {
		return nil, err
	}
	return &cluster, nil
}

// RestartServer terminates server instanceID of cluster id; the service
// starts a replacement with a new instance id. The route is the configured
// Behaviour.RestartRoute (by default the inferred POST
// /clusters/{id}/servers/{instanceId}/restart, BEHAVIOUR.md §7), with both
// ids path-escaped. Whatever its method, a restart is not retried after it
// may have reached the service. Errors: IsNotFound for an unknown server,
// IsBusy while the cluster applies a change.
func (c *Client) RestartServer(ctx context.Context, id, instanceID string) error {
	if id == "" {
		return errors.New("cloudapi: empty cluster id")
	}
	if instanceID == "" {
		return errors.New("cloudapi: restartServer: empty instance id")
	}
	method, path, err := c.behaviour.RestartRequest(id, instanceID)
	if err != nil {
		return fmt.Errorf("cloudapi: restartServer: %w", err)
	}
	return c.call(ctx, request{op: OpRestartServer, method: method, path: path, oneShot: true}, nil, nil)
}

// errEmptyReply is call's answer to a 2xx reply without a body when a body
// was expected.
var errEmptyReply = errors.New("success reply without the expected body")

// callForCluster is call for the operations that answer with the cluster
// (create, update, replace): an empty 2xx reply is (nil, nil).
func (c *Client) callForCluster(ctx context.Context, req request, opts []Option) (*Cluster, error) {
	var cluster Cluster
	err := c.call(ctx, req, opts, &cluster)
	if errors.Is(err, errEmptyReply) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &cluster, nil
}

// call encodes opts, sends req and decodes the reply into out (which may
// be nil for calls without a result). A reply without a body (or only
// white space) leaves out untouched and is errEmptyReply.
func (c *Client) call(ctx context.Context, req request, opts []Option, out any) error {
	query, err := encodeOptions(req.op, opts)
	if err != nil {
		return err
	}
	req.query = query
	body, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("cloudapi: %s: %w", req.op, errEmptyReply)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("cloudapi: %s: decode reply: %w", req.op, err)
	}
	return nil
}

func clusterPath(id string) (string, error) {
	if id == "" {
		return "", errors.New("cloudapi: empty cluster id")
	}
	return "/clusters/" + url.PathEscape(id), nil
}

// writable returns the part of cluster a client may send: a copy without
// metadata.uid and status, which the service owns. Every other member,
// known or not, is kept, including the top level's and metadata's unknown
// members. The remembered forms of uid and status (see Extra) go too, and
// the caller's maps are not modified.
func writable(cluster *Cluster) Cluster {
	out := *cluster
	out.Metadata.UID = ""
	out.Status = nil
	out.Unreadable = ""
	out.Extra = withoutMember(out.Extra, "status")
	out.Metadata.Extra = withoutMember(out.Metadata.Extra, "uid")
	return out
}

// withoutMember returns extra without the members named name in any case
// (a copy when there was one to remove).
func withoutMember(extra map[string]json.RawMessage, name string) map[string]json.RawMessage {
	found := false
	for k := range extra {
		found = found || strings.EqualFold(k, name)
	}
	if !found {
		return extra
	}
	out := make(map[string]json.RawMessage, len(extra))
	for k, v := range extra {
		if !strings.EqualFold(k, name) {
			out[k] = v
		}
	}
	return out
}
