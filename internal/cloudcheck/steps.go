package cloudcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// checkGet reads one cluster by its uid and returns it (nil on failure).
func (c *checker) checkGet(ctx context.Context, listed cloudapi.Cluster) *cloudapi.Cluster {
	f := Finding{Assumption: "clusterId in paths is metadata.uid (GET /clusters/{clusterId})", Section: "§3"}
	got, err := c.client.GetCluster(ctx, listed.Metadata.UID)
	switch {
	case err != nil:
		f.Result, f.Evidence = Contradicted, fmt.Sprintf("GET of %s (uid %s): %v", listed.Metadata.Name, listed.Metadata.UID, err)
	case got.Metadata.UID != listed.Metadata.UID || got.Metadata.Name != listed.Metadata.Name:
		f.Result, f.Evidence = Contradicted, fmt.Sprintf("GET of uid %s answered %s (uid %s)", listed.Metadata.UID, got.Metadata.Name, got.Metadata.UID)
	default:
		f.Result, f.Evidence = Confirmed, fmt.Sprintf("%s read by uid %s", got.Metadata.Name, got.Metadata.UID)
	}
	c.add(f)
	if f.Result != Confirmed || got.Status == nil {
		c.notCheckable("the cluster could not be read by its uid")
		return nil
	}
	return got
}

// checkHistory reads the cluster's current version from its history.
func (c *checker) checkHistory(ctx context.Context, live *cloudapi.Cluster) {
	f := Finding{Assumption: "History: GET /clusters/{clusterId}/history/{resourceVersion} returns that version", Section: "§5", Documented: true}
	rv := live.Status.ResourceVersion
	old, err := c.client.GetClusterVersion(ctx, live.Metadata.UID, rv)
	switch {
	case err != nil:
		f.Result, f.Evidence = Contradicted, fmt.Sprintf("version %d of %s: %v", rv, live.Metadata.Name, err)
	case !sameJSON(old.Spec, live.Spec):
		f.Result, f.Evidence = Contradicted, fmt.Sprintf("version %d of %s has another spec than the cluster at that version", rv, live.Metadata.Name)
	default:
		f.Result, f.Evidence = Confirmed, fmt.Sprintf("version %d of %s read, same spec", rv, live.Metadata.Name)
	}
	c.add(f)
}

// checkPatchDryRun sends a merge patch that changes nothing, as a dry run.
func (c *checker) checkPatchDryRun(ctx context.Context, live *cloudapi.Cluster) {
	f := Finding{Assumption: "A merge patch (PATCH, application/merge-patch+json) is accepted with dryRun=true", Section: "§6", Documented: true}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"desiredState": live.Spec.DesiredState}})
	_, err := c.client.UpdateCluster(ctx, live.Metadata.UID, patch, cloudapi.DryRun())
	if err != nil {
		f.Result, f.Evidence = Contradicted, fmt.Sprintf("no-op patch %s of %s: %v", patch, live.Metadata.Name, err)
	} else {
		f.Result, f.Evidence = Confirmed, fmt.Sprintf("no-op patch %s of %s accepted", patch, live.Metadata.Name)
	}
	c.add(f)
}

// checkPutDryRun sends the document as read back with a PUT dry run.
func (c *checker) checkPutDryRun(ctx context.Context, live *cloudapi.Cluster) {
	f := Finding{Assumption: "A PUT of the document as read (unknown members included) is accepted with dryRun=true", Section: "§6"}
	if _, err := c.client.ReplaceCluster(ctx, live.Metadata.UID, live, cloudapi.DryRun()); err != nil {
		f.Result, f.Evidence = Contradicted, fmt.Sprintf("PUT of %s as read: %v", live.Metadata.Name, err)
	} else {
		f.Result, f.Evidence = Confirmed, fmt.Sprintf("PUT of %s as read accepted", live.Metadata.Name)
	}
	c.add(f)
	c.checkDefaults(ctx, live)
}

// checkDefaults sends, as a PUT dry run, the document with only the
// members the API requires in its spec: members the answer adds are
// defaults the service fills.
func (c *checker) checkDefaults(ctx context.Context, live *cloudapi.Cluster) {
	f := Finding{Assumption: fmt.Sprintf("Defaults filled into stored documents: PORTAL_CLOUD_FILLS_DEFAULTS=%t", c.b.FillsDefaults), Section: "§12"}
	minimal := *live
	s := live.Spec
	minimal.Spec = cloudapi.ClusterSpec{Version: s.Version, DesiredState: s.DesiredState, AWSInstanceRole: s.AWSInstanceRole,
		Master: s.Master, Query: s.Query, Data: s.Data, DeepStorage: s.DeepStorage, Pivot: s.Pivot}
	answer, err := c.client.ReplaceCluster(ctx, live.Metadata.UID, &minimal, cloudapi.DryRun())
	switch {
	case err != nil:
		f.Result, f.Evidence = NotCheckable, fmt.Sprintf("a PUT dry run of %s with only the required members: %v", live.Metadata.Name, err)
	case answer == nil:
		f.Result, f.Evidence = NotCheckable, "the PUT dry run answered without a body"
	default:
		added := addedMembers(minimal.Spec, answer.Spec)
		f.Result, f.Evidence = Confirmed, "a spec with only the required members comes back as sent"
		if len(added) > 0 {
			f.Evidence = "a spec with only the required members comes back with " + strings.Join(added, ", ")
			if !c.b.FillsDefaults {
				f.Result = Contradicted
				f.Evidence += ": set PORTAL_CLOUD_FILLS_DEFAULTS=true"
			}
		} else if c.b.FillsDefaults {
			f.Result = Contradicted
			f.Evidence += ": set PORTAL_CLOUD_FILLS_DEFAULTS=false"
		}
	}
	c.add(f)
}

// checkRestartRoute tells the configured restart route from one that
// does not exist: it asks both to restart a server that cannot exist (with
// dryRun=true), so nothing restarts whichever route is real. The same
// answer from both means the service does not know the configured route.
func (c *checker) checkRestartRoute(ctx context.Context, live *cloudapi.Cluster) {
	f := Finding{Assumption: fmt.Sprintf("Restart route: PORTAL_CLOUD_RESTART_ROUTE=%q", c.b.RestartRoute), Section: "§7"}
	method, path, _ := strings.Cut(c.b.RestartRoute, " ")
	path = strings.NewReplacer("{clusterId}", url.PathEscape(live.Metadata.UID), "{instanceId}", probeInstance).Replace(path)
	status, body, err := c.probe(ctx, method, path)
	if err != nil {
		f.Result, f.Evidence = NotCheckable, err.Error()
		c.add(f)
		return
	}
	noRoute := "/clusters/" + url.PathEscape(live.Metadata.UID) + "/servers/" + probeInstance + "/clusterdesk-check-no-such-route"
	wantStatus, wantBody, err := c.probe(ctx, method, noRoute)
	if err != nil {
		f.Result, f.Evidence = NotCheckable, err.Error()
		c.add(f)
		return
	}
	seen, unrouted := errorText(status, body), errorText(wantStatus, wantBody)
	switch {
	case status == http.StatusMethodNotAllowed || seen == unrouted:
		f.Result = Contradicted
		f.Evidence = fmt.Sprintf("%s %s answered %s, as a route that does not exist does (%s)", method, path, seen, unrouted)
	default:
		f.Result = Confirmed
		f.Evidence = fmt.Sprintf("asked to restart a server that does not exist, it answered %s; a route that does not exist answers %s", seen, unrouted)
	}
	c.add(f)
}

// checkUnchanged reads the cluster again: dry runs must have changed
// nothing.
func (c *checker) checkUnchanged(ctx context.Context, live *cloudapi.Cluster) {
	f := Finding{Assumption: "dryRun=true changes nothing (the resource version stays)", Section: "§6", Documented: true}
	after, err := c.client.GetCluster(ctx, live.Metadata.UID)
	switch {
	case err != nil:
		f.Result, f.Evidence = NotCheckable, err.Error()
	case after.Status == nil || after.Status.ResourceVersion != live.Status.ResourceVersion:
		f.Result = Contradicted
		f.Evidence = fmt.Sprintf("%s moved from resource version %d during the check", live.Metadata.Name, live.Status.ResourceVersion)
	default:
		f.Result, f.Evidence = Confirmed, fmt.Sprintf("%s still at resource version %d", live.Metadata.Name, live.Status.ResourceVersion)
	}
	c.add(f)
}

func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		return false
	}
	var u, v any
	_ = json.Unmarshal(x, &u)
	_ = json.Unmarshal(y, &v)
	x, _ = json.Marshal(u)
	y, _ = json.Marshal(v)
	return string(x) == string(y)
}

// addedMembers lists the paths (spec.…) of members answer has and sent
// lacks, at any depth of objects.
func addedMembers(sent, answer cloudapi.ClusterSpec) []string {
	var a, b any
	x, _ := json.Marshal(sent)
	y, _ := json.Marshal(answer)
	_ = json.Unmarshal(x, &a)
	_ = json.Unmarshal(y, &b)
	var out []string
	walkAdded("spec", a, b, &out)
	return out
}

func walkAdded(path string, sent, answer any, out *[]string) {
	s, ok1 := sent.(map[string]any)
	a, ok2 := answer.(map[string]any)
	if !ok1 || !ok2 {
		return
	}
	for k, v := range a {
		if sv, ok := s[k]; ok {
			walkAdded(path+"."+k, sv, v, out)
		} else {
			*out = append(*out, path+"."+k)
		}
	}
}
