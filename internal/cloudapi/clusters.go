package cloudapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// ErrAccessModeRequired is returned by ReplaceCluster when neither the new
// configuration nor the current cluster has spec.pivot.accessMode. The
// service answers such a PUT with 500, so the client does not send it.
var ErrAccessModeRequired = errors.New("cloudapi: replace needs spec.pivot.accessMode and the cluster has none to keep; set spec.pivot.accessMode")

// ListClusters returns every cluster of the account (no paging exists).
// Option: Pretty.
func (c *Client) ListClusters(ctx context.Context, opts ...Option) ([]Cluster, error) {
	var clusters []Cluster
	err := c.call(ctx, request{op: OpListClusters, method: http.MethodGet, path: "/clusters"}, opts, &clusters)
	if err != nil {
		return nil, err
	}
	return clusters, nil
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
// Create is never retried once the request may have reached the service:
// after a retryable error, look for the cluster by name before creating it
// again. Options: DryRun, Pretty.
func (c *Client) CreateCluster(ctx context.Context, cluster *Cluster, opts ...Option) (*Cluster, error) {
	body, err := json.Marshal(writable(cluster))
	if err != nil {
		return nil, fmt.Errorf("cloudapi: createCluster: %w", err)
	}
	var created Cluster
	req := request{op: OpCreateCluster, method: http.MethodPost, path: "/clusters", body: body, contentType: "application/json"}
	if err := c.call(ctx, req, opts, &created); err != nil {
		return nil, err
	}
	return &created, nil
}

// UpdateCluster sends patch, a JSON merge patch (RFC 7386) such as
// {"spec":{"desiredState":"STOPPED"}}, and returns the cluster as merged;
// its status shows the update the change started. Build patch with
// SpecPatch or CreateMergePatch. Errors: IsBusy while the cluster applies
// another change, IsNotFound, a 400 with details. Options: DryRun, Force,
// Pretty.
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
	var updated Cluster
	req := request{op: OpUpdateCluster, method: http.MethodPatch, path: path, body: patch, contentType: "application/merge-patch+json"}
	if err := c.call(ctx, req, opts, &updated); err != nil {
		return nil, err
	}
	return &updated, nil
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
	var replaced Cluster
	req := request{op: OpReplaceCluster, method: http.MethodPut, path: path, body: body, contentType: "application/json"}
	if err := c.call(ctx, req, opts, &replaced); err != nil {
		return nil, err
	}
	return &replaced, nil
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
	method, path, err := c.behaviour.restartRequest(id, instanceID)
	if err != nil {
		return fmt.Errorf("cloudapi: restartServer: %w", err)
	}
	return c.call(ctx, request{op: OpRestartServer, method: method, path: path, oneShot: true}, nil, nil)
}

// call encodes opts, sends req and decodes a non-empty reply into out
// (which may be nil for calls without a result).
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
	if len(body) == 0 {
		return fmt.Errorf("cloudapi: %s: success reply without the expected body", req.op)
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
// metadata.uid and status, which the service owns.
func writable(cluster *Cluster) Cluster {
	out := *cluster
	out.Metadata.UID = ""
	out.Status = nil
	return out
}
