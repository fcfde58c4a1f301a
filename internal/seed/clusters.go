package seed

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// environments the seeded clusters are spread over (their "env" tag).
var environments = []string{"production", "staging", "development"}

// Clusters creates n clusters in Cloud Manager through api, named
// seed-00001 and on, spread over three environments and five teams; one
// in three is stopped. It returns their uids in the order of their names.
// The inventory has them after the next sync (the caller's).
func Clusters(ctx context.Context, api *cloudapi.Client, n int) ([]string, error) {
	uids := make([]string, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				c, err := api.CreateCluster(ctx, clusterDocument(i))
				if err == nil && c == nil {
					err = fmt.Errorf("the API returned no cluster")
				}
				if err != nil {
					errs <- fmt.Errorf("seed: create cluster %d: %w", i+1, err)
					continue
				}
				uids[i] = c.Metadata.UID
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, err
	}
	return uids, nil
}

// clusterName is the name of the i-th seeded cluster (from 0).
func clusterName(i int) string { return fmt.Sprintf("seed-%05d", i+1) }

func clusterDocument(i int) *cloudapi.Cluster {
	one := func(n int32) *int32 { return &n }
	state := cloudapi.DesiredState("STARTED")
	if i%3 == 2 {
		state = "STOPPED"
	}
	tag := func(name, value string) cloudapi.NameValue {
		raw, _ := json.Marshal(value)
		return cloudapi.NameValue{Name: name, Value: raw}
	}
	return &cloudapi.Cluster{
		Metadata: cloudapi.ObjectMeta{Name: clusterName(i)},
		Spec: cloudapi.ClusterSpec{
			Version: "2024.01", DesiredState: state, AWSInstanceRole: "imply-seed-instance",
			AWSTags: []cloudapi.NameValue{tag("env", environments[i%len(environments)]), tag("team", fmt.Sprintf("team-%d", i%5+1))},
			Master:  &cloudapi.MasterConfig{Replicas: one(1), InstanceType: "t3.medium"},
			Query:   &cloudapi.QueryConfig{Replicas: one(1), InstanceType: "t3.medium"},
			Data:    &cloudapi.DataConfig{Tier1: &cloudapi.DataTier{Replicas: one(1), InstanceType: "t3.medium"}},
			DeepStorage: &cloudapi.DeepStorage{
				Path: fmt.Sprintf("s3://acme-druid-seed/%s", clusterName(i))},
		},
	}
}

// Versions gives cluster uid n more configuration versions: n changes
// through api, one after another (each waits for the one before to
// finish), each a new value of the cluster's "revision" tag, and records
// each version in the inventory as the sync records a version it fetched
// from the API's history: changed outside Clusterdesk. It returns the
// cluster's resource version at the end. The cluster must be in the
// inventory; its row moves to the last version at the next sync.
func Versions(ctx context.Context, db *pgxpool.Pool, api *cloudapi.Client, uid string, n int) (int64, error) {
	type version struct {
		rv   int64
		spec []byte
	}
	var (
		versions []version
		last     int64
	)
	for i := range n {
		c, err := api.GetCluster(ctx, uid)
		if err != nil {
			return 0, fmt.Errorf("seed: versions of %s: %w", uid, err)
		}
		spec := c.Spec
		spec.AWSTags = withTag(spec.AWSTags, "revision", fmt.Sprintf("seed-%d", i+1))
		patch, err := cloudapi.SpecPatch(c.Spec, spec)
		if err != nil {
			return 0, fmt.Errorf("seed: versions of %s: %w", uid, err)
		}
		var changed *cloudapi.Cluster
		for {
			changed, err = api.UpdateCluster(ctx, uid, patch)
			if !cloudapi.IsBusy(err) {
				break
			}
			// The previous change is still being applied: wait for it.
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		if err == nil && (changed == nil || changed.Status == nil) {
			changed, err = api.GetCluster(ctx, uid)
		}
		if err != nil {
			return 0, fmt.Errorf("seed: versions of %s: change %d: %w", uid, i+1, err)
		}
		doc, err := json.Marshal(changed.Spec)
		if err != nil {
			return 0, fmt.Errorf("seed: versions of %s: %w", uid, err)
		}
		last = changed.Status.ResourceVersion
		versions = append(versions, version{last, doc})
	}
	if len(versions) == 0 {
		return last, nil
	}
	rvs := make([]int64, len(versions))
	specs := make([]string, len(versions))
	for i, v := range versions {
		rvs[i], specs[i] = v.rv, string(v.spec)
	}
	_, err := db.Exec(ctx, `
		INSERT INTO cluster_versions (cluster_uid, resource_version, spec, source, fetched_at, outside, attributed_at)
		SELECT $1, rv, spec::jsonb, 'history', now(), true, now()
		FROM unnest($2::bigint[], $3::text[]) AS v (rv, spec)
		ON CONFLICT (cluster_uid, resource_version) DO NOTHING`, uid, rvs, specs)
	if err != nil {
		return 0, fmt.Errorf("seed: versions of %s: %w", uid, err)
	}
	return last, analyze(ctx, db, "cluster_versions")
}

func withTag(tags []cloudapi.NameValue, name, value string) []cloudapi.NameValue {
	raw, _ := json.Marshal(value)
	out := make([]cloudapi.NameValue, 0, len(tags)+1)
	for _, t := range tags {
		if t.Name != name {
			out = append(out, t)
		}
	}
	return append(out, cloudapi.NameValue{Name: name, Value: raw})
}
