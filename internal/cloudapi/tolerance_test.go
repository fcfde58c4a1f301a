package cloudapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// A real tenant may answer in ways the reference does not show. These
// tests serve such answers from an httptest server.

// fakeTenant answers each "METHOD /path" (below /api/v1) with a status and
// a body, and records the bodies it was sent.
type fakeTenant struct {
	mu      sync.Mutex
	replies map[string]fakeReply
	sent    map[string][]byte
}

type fakeReply struct {
	status int
	body   string
}

func newFakeTenant(t *testing.T, replies map[string]fakeReply) (*fakeTenant, *cloudapi.Client, *syncBuffer) {
	t.Helper()
	ft := &fakeTenant{replies: replies, sent: map[string][]byte{}}
	server := httptest.NewServer(ft)
	t.Cleanup(server.Close)
	logs := &syncBuffer{}
	client, err := cloudapi.New(cloudapi.Config{BaseURL: server.URL + "/api/v1", StaticToken: "t",
		Retry:  cloudapi.RetryPolicy{MaxAttempts: 1},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	return ft, client, logs
}

func (ft *fakeTenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.EscapedPath()
	body, _ := io.ReadAll(r.Body)
	ft.mu.Lock()
	ft.sent[key] = body
	reply, ok := ft.replies[key]
	ft.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":"NotFound","message":"no such route in the test"}}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.status)
	_, _ = io.WriteString(w, reply.body)
}

func (ft *fakeTenant) body(key string) []byte {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.sent[key]
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestEmptySuccessRepliesGiveNoClusterAndNoError(t *testing.T) {
	t.Parallel()
	const id = "6f0b1f0e-2c1d-4e7a-8b55-3f1d2a9c0e42"
	ft, client, _ := newFakeTenant(t, map[string]fakeReply{
		"POST /api/v1/clusters":        {http.StatusCreated, ""},
		"PATCH /api/v1/clusters/" + id: {http.StatusNoContent, ""},
		"PUT /api/v1/clusters/" + id:   {http.StatusOK, " \n"},
		"GET /api/v1/clusters/" + id:   {http.StatusOK, ""},
	})
	body := exampleCluster(t, "quiet")

	created, err := client.CreateCluster(ctx, body)
	require.NoError(t, err)
	require.Nil(t, created)
	require.Contains(t, string(ft.body("POST /api/v1/clusters")), `"quiet"`, "the call was made")

	updated, err := client.UpdateCluster(ctx, id, json.RawMessage(`{"spec":{"desiredState":"STOPPED"}}`))
	require.NoError(t, err)
	require.Nil(t, updated)

	replaced, err := client.ReplaceCluster(ctx, id, body)
	require.NoError(t, err)
	require.Nil(t, replaced)
	require.Contains(t, string(ft.body("PUT /api/v1/clusters/"+id)), `"accessMode":"PROXIED"`)

	_, err = client.GetCluster(ctx, id)
	require.ErrorContains(t, err, "getCluster: success reply without the expected body", "a read needs its body")
}

// unreadableTenantList is a list reply holding a readable cluster, one in
// forms the reference does not show (all readable), one whose replicas is
// no number, and an item that is not a cluster at all.
const unreadableTenantList = `[
  {"metadata": {"name": "good", "uid": "u-good"}, "spec": {"version": "2024.01"},
   "status": {"state": "STARTED", "status": "OK", "resourceVersion": 3}},
  {"metadata": {"name": "odd", "uid": "u-odd"},
   "spec": {"desiredState": "HIBERNATING", "awsKeyPair": "", "master": {"replicas": 3.0, "instanceType": null},
            "metadataStore": {"diskSize": 2e1, "backupRetention": "7", "encrypt": ""}},
   "status": {"state": "RESIZING", "resourceVersion": "42",
              "updateState": {"cancellable": true, "totalStages": 4.0, "currentStage": "2"},
              "events": [{"message": "zone-less", "timestamp": "2024-05-01T10:00:00"},
                         {"message": "epoch ms", "timestamp": 1714557600000},
                         {"message": "offset", "timestamp": "2024-05-01T12:00:00.000+0200"},
                         {"message": "none", "timestamp": ""}]}},
  {"metadata": {"name": "bad", "uid": "u-bad"}, "spec": {"master": {"replicas": "three"}},
   "status": {"state": "STARTED", "resourceVersion": 9}},
  42
]`

func TestListClustersReadsLenientlyAndReturnsUnreadableClusters(t *testing.T) {
	t.Parallel()
	_, client, logs := newFakeTenant(t, map[string]fakeReply{
		"GET /api/v1/clusters": {http.StatusOK, unreadableTenantList},
	})
	clusters, err := client.ListClusters(ctx)
	require.NoError(t, err, "one bad cluster does not blind the list")
	require.Len(t, clusters, 4)

	good := clusters[0]
	require.Empty(t, good.Unreadable)
	require.Equal(t, "u-good", good.Metadata.UID)
	require.EqualValues(t, 3, good.Status.ResourceVersion)

	odd := clusters[1]
	require.Empty(t, odd.Unreadable)
	require.Equal(t, cloudapi.DesiredState("HIBERNATING"), odd.Spec.DesiredState, "unknown enumeration values decode")
	require.Equal(t, cloudapi.ClusterState("RESIZING"), odd.Status.State)
	require.EqualValues(t, 3, *odd.Spec.Master.Replicas)
	require.EqualValues(t, 20, *odd.Spec.MetadataStore.DiskSize)
	require.EqualValues(t, 7, *odd.Spec.MetadataStore.BackupRetention)
	require.Nil(t, odd.Spec.MetadataStore.Encrypt, `"" is not set`)
	require.EqualValues(t, 42, odd.Status.ResourceVersion)
	u := odd.Status.UpdateState
	require.True(t, u.Cancellable)
	require.EqualValues(t, 4, u.TotalStages)
	require.EqualValues(t, 2, u.CurrentStage)
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	events := odd.Status.Events
	require.True(t, events[0].Timestamp.Equal(at), "zone-less is UTC: %s", events[0].Timestamp)
	require.Equal(t, time.UTC, events[0].Timestamp.Location())
	require.True(t, events[1].Timestamp.Equal(at), "epoch milliseconds: %s", events[1].Timestamp)
	require.True(t, events[2].Timestamp.Equal(at), "+hhmm offset: %s", events[2].Timestamp)
	require.True(t, events[3].Timestamp.IsZero())

	// Written back, the odd cluster is the document read.
	var raw []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(unreadableTenantList), &raw))
	require.JSONEq(t, string(raw[1]), string(mustJSON(t, odd)))

	bad := clusters[2]
	require.Equal(t, "u-bad", bad.Metadata.UID)
	require.Equal(t, "bad", bad.Metadata.Name)
	require.Nil(t, bad.Status, "nothing of an unreadable cluster but its identity")
	require.Contains(t, bad.Unreadable, "spec: master: replicas: ")
	require.Contains(t, bad.Unreadable, "cannot unmarshal string")

	notACluster := clusters[3]
	require.NotEmpty(t, notACluster.Unreadable)
	require.Empty(t, notACluster.Metadata.UID)

	warnings := logs.String()
	require.Contains(t, warnings, "a listed cluster could not be read")
	require.Contains(t, warnings, "uid=u-bad")
	require.Contains(t, warnings, "index=3")
	require.NotContains(t, warnings, "u-odd", "a cluster read leniently is no warning")
}

func TestListClustersFailsOnlyWhenTheReplyIsNoList(t *testing.T) {
	t.Parallel()
	_, client, _ := newFakeTenant(t, map[string]fakeReply{
		"GET /api/v1/clusters": {http.StatusOK, `{"clusters": []}`},
	})
	_, err := client.ListClusters(ctx)
	require.ErrorContains(t, err, "listClusters: decode reply")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// What a tenant sent, read back and written on create and replace: only
// metadata.uid and status are dropped, and nothing else changes.
const tenantDocument = `{
  "kind": "Cluster",
  "metadata": {"name": "keep", "uid": "u-keep", "labels": {"team": "search"}, "annotations": null},
  "spec": {
    "version": "2024.01", "awsKeyPair": "", "awsTags": [], "encryptVolumes": null,
    "master": {"replicas": null, "instanceType": "t2.small", "coordinatorRuntimeProperties": null},
    "metadataStore": {"diskSize": 20.0, "backupRetention": "14"},
    "pivot": {"accessMode": "PROXIED", "url": ""},
    "future": {"x": [1, 2.50]}
  },
  "status": {"state": "STARTED", "resourceVersion": 4}
}`

func TestWritableKeepsEverythingButUIDAndStatus(t *testing.T) {
	t.Parallel()
	ft, client, _ := newFakeTenant(t, map[string]fakeReply{
		"POST /api/v1/clusters":       {http.StatusOK, ""},
		"PUT /api/v1/clusters/u-keep": {http.StatusOK, ""},
	})
	var want map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(tenantDocument), &want))
	delete(want, "status")
	var meta map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(want["metadata"], &meta))
	delete(meta, "uid")
	want["metadata"] = mustJSON(t, meta)

	for _, doc := range []string{
		tenantDocument,
		// uid and status given as null are remembered, and still not sent.
		`{"kind": "Cluster", "metadata": {"name": "keep", "uid": null, "labels": {"team": "search"}, "annotations": null},` +
			tenantDocument[bytes.Index([]byte(tenantDocument), []byte(`"spec"`)):bytes.Index([]byte(tenantDocument), []byte(`"status"`))] +
			`"status": null}`,
	} {
		var c cloudapi.Cluster
		require.NoError(t, json.Unmarshal([]byte(doc), &c))
		before := string(mustJSON(t, c))
		require.JSONEq(t, doc, before, "read and written, the document is unchanged")

		_, err := client.CreateCluster(ctx, &c)
		require.NoError(t, err)
		require.JSONEq(t, string(mustJSON(t, want)), string(ft.body("POST /api/v1/clusters")))

		_, err = client.ReplaceCluster(ctx, "u-keep", &c)
		require.NoError(t, err)
		require.JSONEq(t, string(mustJSON(t, want)), string(ft.body("PUT /api/v1/clusters/u-keep")))

		require.JSONEq(t, before, string(mustJSON(t, c)), "the caller's cluster is not modified")
	}
}

func TestAFieldSetAfterReadingWinsOverTheFormRead(t *testing.T) {
	t.Parallel()
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(tenantDocument), &c))
	c.Spec.AWSKeyPair = "ops"
	c.Spec.Master.Replicas = new(int32(3))
	c.Spec.MetadataStore.DiskSize = nil
	c.Spec.MetadataStore.BackupRetention = new(int32(14)) // the value read: still written as read
	c.Spec.Pivot.URL = "https://pivot.example.com"

	var got struct {
		Spec struct {
			AWSKeyPair    json.RawMessage            `json:"awsKeyPair"`
			Master        map[string]json.RawMessage `json:"master"`
			MetadataStore map[string]json.RawMessage `json:"metadataStore"`
			Pivot         map[string]json.RawMessage `json:"pivot"`
		} `json:"spec"`
	}
	require.NoError(t, json.Unmarshal(mustJSON(t, c), &got))
	require.Equal(t, `"ops"`, string(got.Spec.AWSKeyPair))
	require.Equal(t, `3`, string(got.Spec.Master["replicas"]))
	require.NotContains(t, got.Spec.MetadataStore, "diskSize", "cleared: the field's absence wins")
	require.Equal(t, `"14"`, string(got.Spec.MetadataStore["backupRetention"]))
	require.Equal(t, `"https://pivot.example.com"`, string(got.Spec.Pivot["url"]))

	patch, err := cloudapi.SpecPatch(mustSpec(t, tenantDocument), c.Spec)
	require.NoError(t, err, "nulls kept from the read are no obstacle to a patch")
	require.JSONEq(t, `{"spec":{"awsKeyPair":"ops","master":{"replicas":3},"metadataStore":{"diskSize":null},"pivot":{"url":"https://pivot.example.com"}}}`, string(patch))
}

func mustSpec(t *testing.T, doc string) cloudapi.ClusterSpec {
	t.Helper()
	var c cloudapi.Cluster
	require.NoError(t, json.Unmarshal([]byte(doc), &c))
	return c.Spec
}
