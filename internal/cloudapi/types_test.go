package cloudapi

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// A document from a newer service: unknown members at every level, unknown
// enumeration values, values of any JSON type, explicit empty lists.
const futureCluster = `{
  "metadata": {"name": "c", "uid": "ffd5ea0f-5018-4649-97ee-1ddb0f8a2c53", "labels": {"team": "x"}},
  "spec": {
    "version": "2031.01",
    "desiredState": "HIBERNATING",
    "awsTags": [],
    "commonRuntimeProperties": [
      {"name": "n", "value": {"nested": [1, 2.50, null]}},
      {"name": "m", "value": null, "secret": true},
      {"name": "o"}
    ],
    "master": {"instanceType": "t2.small", "diskSize": 64},
    "data": {"tier1": {"replicas": 0, "storageClass": "gp3"}, "tier4": {"replicas": 1}},
    "pivot": {"accessMode": "SAML", "saml": {"idp": "x"}},
    "deepStorage": {"path": "s3://b/p", "encrypt": false},
    "customFiles": [{"path": "s3://b/f", "type": "SYSTEM", "checksum": "abc"}],
    "autoscaling": {"enabled": true}
  },
  "status": {
    "state": "HIBERNATED",
    "resourceVersion": 7,
    "servers": [{"instanceId": "i-1", "nodeType": "COORDINATOR", "zone": "eu-west-1a"}],
    "events": [{"level": "DEBUG", "message": "m", "source": "SCHEDULER", "timestamp": "2024-01-02T03:04:05Z", "id": 9}],
    "updateState": {"cancellable": false, "totalStages": 3, "currentStage": 1, "eta": "5m"},
    "cost": {"hourly": 1.25}
  },
  "kind": "Cluster"
}`

func TestUnknownMembersRoundTrip(t *testing.T) {
	t.Parallel()
	var c Cluster
	require.NoError(t, json.Unmarshal([]byte(futureCluster), &c))

	require.Equal(t, DesiredState("HIBERNATING"), c.Spec.DesiredState)
	require.Equal(t, AccessMode("SAML"), c.Spec.Pivot.AccessMode)
	require.Equal(t, NodeType("COORDINATOR"), c.Status.Servers[0].NodeType)
	require.Equal(t, ClusterState("HIBERNATED"), c.Status.State)
	require.False(t, c.Status.State.Busy())
	require.JSONEq(t, `{"nested":[1,2.50,null]}`, string(c.Spec.CommonRuntimeProperties[0].Value))
	require.Equal(t, "null", string(c.Spec.CommonRuntimeProperties[1].Value))
	require.Nil(t, c.Spec.Master.Replicas)
	require.JSONEq(t, `{"instanceType":"t2.small","diskSize":64}`, string(mustMarshal(t, c.Spec.Master)))
	require.EqualValues(t, 0, *c.Spec.Data.Tier1.Replicas, "zero and absent stay apart")
	require.False(t, *c.Spec.DeepStorage.Encrypt)
	require.NotNil(t, c.Spec.AWSTags, "an empty list stays a list")
	require.JSONEq(t, `{"enabled":true}`, string(c.Spec.Extra["autoscaling"]))
	require.JSONEq(t, `64`, string(c.Spec.Master.Extra["diskSize"]))
	require.JSONEq(t, `{"replicas":1}`, string(c.Spec.Data.Extra["tier4"]))

	out, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, futureCluster, string(out))
}

func TestNullKnownFieldsReadAsAbsentAndAreWrittenBack(t *testing.T) {
	t.Parallel()
	var m MasterConfig
	require.NoError(t, json.Unmarshal([]byte(`{"replicas":null,"instanceType":"t2.small"}`), &m))
	require.Nil(t, m.Replicas)
	require.JSONEq(t, `{"replicas":null,"instanceType":"t2.small"}`, string(mustMarshal(t, m)), "unchanged, so written as read")

	set := m
	set.Replicas = new(int32(3))
	require.JSONEq(t, `{"replicas":3,"instanceType":"t2.small"}`, string(mustMarshal(t, set)), "a value set later wins")
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestSpecWrittenBackIsTheSpecRead(t *testing.T) {
	t.Parallel()
	var c Cluster
	require.NoError(t, json.Unmarshal([]byte(futureCluster), &c))
	spec, err := json.Marshal(c.Spec)
	require.NoError(t, err)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(futureCluster), &raw))
	require.JSONEq(t, string(raw["spec"]), string(spec))
}

func TestExtraNeverOverridesAField(t *testing.T) {
	t.Parallel()
	m := MasterConfig{InstanceType: "t2.small", Extra: map[string]json.RawMessage{"instanceType": json.RawMessage(`"m5.large"`), "z": json.RawMessage(`1`)}}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	require.JSONEq(t, `{"instanceType":"t2.small","z":1}`, string(out))

	_, err = json.Marshal(MasterConfig{Extra: map[string]json.RawMessage{"bad": json.RawMessage(`{`)}})
	require.Error(t, err)
}

func TestMemberNamesMatchFieldsRegardlessOfCase(t *testing.T) {
	t.Parallel()
	var m MasterConfig
	require.NoError(t, json.Unmarshal([]byte(`{"InstanceType":"t2.small"}`), &m))
	require.Equal(t, "t2.small", m.InstanceType)
	require.Empty(t, m.Extra, "decoded into the field, so not an extra member")
}

func TestStringValue(t *testing.T) {
	t.Parallel()
	out, err := json.Marshal(StringValue("druid.x", `say "hi"`))
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"druid.x","value":"say \"hi\""}`, string(out))
}
