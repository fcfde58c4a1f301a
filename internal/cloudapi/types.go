package cloudapi

import (
	"encoding/json"
	"time"
)

// Field conventions for every type in this file:
//
//   - Extra holds the JSON members the type does not declare, and the known
//     members read in a form their field would not write back (null, "",
//     3.0, "42"…); both are written back unchanged, so a document read and
//     written again is the same JSON value (see extra.go for the rules and
//     for what is read leniently).
//   - Optional numbers and booleans are pointers, so "absent" and "zero" stay
//     apart; lists keep the difference between absent (nil) and empty ([]).
//   - Optional strings use omitempty: an empty string set in Go is written
//     as absent (one read as "" is written back as "").

// Cluster is one Imply cluster: identity, desired configuration and observed
// state. Status is set by the service and never sent by this client.
type Cluster struct {
	Metadata ObjectMeta     `json:"metadata"`
	Spec     ClusterSpec    `json:"spec"`
	Status   *ClusterStatus `json:"status,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`

	// Unreadable is set, only by ListClusters, on a listed cluster whose
	// document could not be decoded: it is the reason. Such a cluster has
	// only Metadata.UID and Metadata.Name (each when it could be read) and
	// a nil Status; do not write it back or compare its spec. Never sent
	// or encoded.
	Unreadable string `json:"-"`
}

// ObjectMeta is the identity of a cluster. UID is assigned by the service
// and is the clusterId used in paths (BEHAVIOUR.md §3).
type ObjectMeta struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// ClusterSpec is the desired configuration of a cluster.
type ClusterSpec struct {
	Version                 string                 `json:"version,omitempty"`
	DesiredState            DesiredState           `json:"desiredState,omitempty"`
	AWSInstanceRole         string                 `json:"awsInstanceRole,omitempty"`
	AWSKeyPair              string                 `json:"awsKeyPair,omitempty"`
	AWSTags                 []NameValue            `json:"awsTags,omitzero"`
	EncryptVolumes          *bool                  `json:"encryptVolumes,omitempty"`
	CommonRuntimeProperties []NameValue            `json:"commonRuntimeProperties,omitzero"`
	Master                  *MasterConfig          `json:"master,omitempty"`
	Query                   *QueryConfig           `json:"query,omitempty"`
	Data                    *DataConfig            `json:"data,omitempty"`
	MetadataStore           *MetadataStore         `json:"metadataStore,omitempty"`
	Pivot                   *PivotAccess           `json:"pivot,omitempty"`
	DeepStorage             *DeepStorage           `json:"deepStorage,omitempty"`
	DruidExtensions         []string               `json:"druidExtensions,omitzero"`
	CustomDruidExtensions   []CustomDruidExtension `json:"customDruidExtensions,omitzero"`
	FeatureFlags            []string               `json:"featureFlags,omitzero"`
	CustomFiles             []CustomFile           `json:"customFiles,omitzero"`

	Extra map[string]json.RawMessage `json:"-"`
}

// MasterConfig sizes the master servers (Coordinator and Overlord).
// Replicas may be null in the service's samples.
type MasterConfig struct {
	Replicas                     *int32      `json:"replicas,omitempty"`
	InstanceType                 string      `json:"instanceType,omitempty"`
	CoordinatorRuntimeProperties []NameValue `json:"coordinatorRuntimeProperties,omitzero"`
	OverlordRuntimeProperties    []NameValue `json:"overlordRuntimeProperties,omitzero"`

	Extra map[string]json.RawMessage `json:"-"`
}

// QueryConfig sizes the query servers (Broker, Router and Pivot).
type QueryConfig struct {
	Replicas                *int32      `json:"replicas,omitempty"`
	InstanceType            string      `json:"instanceType,omitempty"`
	BrokerRuntimeProperties []NameValue `json:"brokerRuntimeProperties,omitzero"`
	RouterRuntimeProperties []NameValue `json:"routerRuntimeProperties,omitzero"`
	PivotConfiguration      string      `json:"pivotConfiguration,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// DataConfig holds the data servers in up to three tiers; its property lists
// apply to every tier.
type DataConfig struct {
	HistoricalRuntimeProperties    []NameValue `json:"historicalRuntimeProperties,omitzero"`
	MiddleManagerRuntimeProperties []NameValue `json:"middleManagerRuntimeProperties,omitzero"`
	Tier1                          *DataTier   `json:"tier1,omitempty"`
	Tier2                          *DataTier   `json:"tier2,omitempty"`
	Tier3                          *DataTier   `json:"tier3,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// DataTier sizes one tier of data servers.
type DataTier struct {
	Replicas                       *int32      `json:"replicas,omitempty"`
	InstanceType                   string      `json:"instanceType,omitempty"`
	HistoricalRuntimeProperties    []NameValue `json:"historicalRuntimeProperties,omitzero"`
	MiddleManagerRuntimeProperties []NameValue `json:"middleManagerRuntimeProperties,omitzero"`

	Extra map[string]json.RawMessage `json:"-"`
}

// MetadataStore is the cluster's Druid metadata database (an RDS instance).
type MetadataStore struct {
	InstanceType    string `json:"instanceType,omitempty"`
	DiskSize        *int32 `json:"diskSize,omitempty"`        // GiB (inferred)
	BackupRetention *int32 `json:"backupRetention,omitempty"` // days (inferred)
	Monitoring      *bool  `json:"monitoring,omitempty"`
	Encrypt         *bool  `json:"encrypt,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// PivotAccess says how users reach Pivot. AccessMode is required in every
// PUT body (the service answers 500 without it).
type PivotAccess struct {
	AccessMode    AccessMode    `json:"accessMode,omitempty"`
	URL           string        `json:"url,omitempty"`
	RoleAuthority RoleAuthority `json:"roleAuthority,omitempty"`
	Options       string        `json:"options,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// DeepStorage is where Druid keeps its segments: an s3:// path.
type DeepStorage struct {
	Path    string `json:"path,omitempty"`
	Encrypt *bool  `json:"encrypt,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// CustomDruidExtension is an extension not bundled with Imply.
type CustomDruidExtension struct {
	Name string `json:"name,omitempty"`
	Path string `json:"path,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// CustomFile is a user-supplied file placed on the servers.
type CustomFile struct {
	Path       string         `json:"path,omitempty"`
	Type       CustomFileType `json:"type,omitempty"`
	Executable *bool          `json:"executable,omitempty"`
	Unpack     *bool          `json:"unpack,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// NameValue is a runtime property or a tag. Value is any JSON value, kept
// as written (BEHAVIOUR.md §3); use StringValue to build the common case.
type NameValue struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// StringValue returns a NameValue whose value is the JSON string v.
func StringValue(name, v string) NameValue {
	raw, _ := json.Marshal(v) // a string always marshals
	return NameValue{Name: name, Value: raw}
}

// ClusterStatus is the observed state of a cluster, maintained by the
// service.
type ClusterStatus struct {
	RootCertificate      string         `json:"rootCertificate,omitempty"`
	LoadBalancers        *LoadBalancers `json:"loadBalancers,omitempty"`
	Servers              []Server       `json:"servers,omitzero"`
	InitialDruidPassword string         `json:"initialDruidPassword,omitempty"`
	Status               HealthStatus   `json:"status,omitempty"`
	State                ClusterState   `json:"state,omitempty"`
	// UpdateState is the progress of the running update; nil when none runs.
	UpdateState *UpdateState `json:"updateState,omitempty"`
	Events      []Event      `json:"events,omitzero"`
	// ResourceVersion is read from a number, also one written 42.0 or
	// "42" (lenient, see extra.go).
	ResourceVersion int64 `json:"resourceVersion"`

	Extra map[string]json.RawMessage `json:"-"`
}

// LoadBalancers are the addresses under which the cluster is reachable.
type LoadBalancers struct {
	Public  string `json:"public,omitempty"`
	Private string `json:"private,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// Server is one machine of a cluster. InstanceID is what RestartServer
// takes; a restart replaces it with a new one.
type Server struct {
	InstanceID   string   `json:"instanceId,omitempty"`
	InstanceType string   `json:"instanceType,omitempty"`
	PrivateIP    string   `json:"privateIp,omitempty"`
	PublicIP     string   `json:"publicIp,omitempty"`
	State        string   `json:"state,omitempty"` // free text
	NodeType     NodeType `json:"nodeType,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

// UpdateState is the progress of an update: stage CurrentStage of
// TotalStages (the simulator counts from 1; the base is not documented).
type UpdateState struct {
	Cancellable  bool  `json:"cancellable"`
	TotalStages  int32 `json:"totalStages"`
	CurrentStage int32 `json:"currentStage"`

	Extra map[string]json.RawMessage `json:"-"`
}

// Event is one entry of a cluster's log.
type Event struct {
	Level   EventLevel  `json:"level,omitempty"`
	Message string      `json:"message"`
	Source  EventSource `json:"source,omitempty"`
	// Timestamp is read from RFC 3339, a zone-less time (UTC) or epoch
	// milliseconds; written back as read while unchanged.
	Timestamp time.Time `json:"timestamp,omitzero"`

	Extra map[string]json.RawMessage `json:"-"`
}
