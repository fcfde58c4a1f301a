package cloudapi

// The API documents only some values of most enumerations (BEHAVIOUR.md §3).
// Each one is a plain string type: the constants name the values seen so
// far, and any other value decodes and round-trips unchanged.

// DesiredState says whether a cluster should run. The two values are
// documented; that no others exist is assumed.
type DesiredState string

const (
	DesiredStarted DesiredState = "STARTED"
	DesiredStopped DesiredState = "STOPPED"
)

// ClusterState is the lifecycle state in status.state.
type ClusterState string

const (
	StatePending  ClusterState = "PENDING"
	StateUpdating ClusterState = "UPDATING"
	StateStopped  ClusterState = "STOPPED"
	// StateStarted is inferred as the counterpart of STOPPED; it was not
	// seen in Imply's pages (BEHAVIOUR.md §4).
	StateStarted ClusterState = "STARTED"
	// StateRunning is another plausible name of the running state; the
	// default Behaviour counts it as running too.
	StateRunning ClusterState = "RUNNING"
)

// Busy reports whether the cluster is applying a change, during which the
// service answers every other change with 409 StateConflict, as the
// default behaviour sees it (PENDING, UPDATING; BEHAVIOUR.md §4: whether
// PENDING blocks changes is inferred). Code that talks to a configured
// tenant asks Client.Behaviour().Busy instead.
func (s ClusterState) Busy() bool { return Behaviour{}.Busy(s) }

// HealthStatus is the overall health indicator in status.status.
type HealthStatus string

// HealthOK is the only value seen.
const HealthOK HealthStatus = "OK"

// AccessMode says how users reach Pivot. The value list is documented.
type AccessMode string

const (
	AccessProxied AccessMode = "PROXIED"
	AccessNative  AccessMode = "NATIVE"
	AccessOIDC    AccessMode = "OIDC"
	AccessLDAP    AccessMode = "LDAP"
)

// RoleAuthority says who owns Pivot's user roles. Documented values.
type RoleAuthority string

const (
	RoleAuthorityNative   RoleAuthority = "NATIVE"
	RoleAuthorityExternal RoleAuthority = "EXTERNAL"
)

// NodeType is the role a server plays. Only MASTER was seen; QUERY and DATA
// are the simulator's guesses (BEHAVIOUR.md §4).
type NodeType string

const (
	NodeMaster NodeType = "MASTER"
	NodeQuery  NodeType = "QUERY"
	NodeData   NodeType = "DATA"
)

// EventLevel is the severity of an event. Only INFO was seen.
type EventLevel string

const (
	EventInfo  EventLevel = "INFO"
	EventWarn  EventLevel = "WARN"
	EventError EventLevel = "ERROR"
)

// EventSource is the component that emitted an event. Only MANAGER was seen.
type EventSource string

const EventSourceManager EventSource = "MANAGER"

// CustomFileType is the kind of a custom file. Only USER was seen.
type CustomFileType string

const CustomFileUser CustomFileType = "USER"

// ErrorCode is error.code or details[].code of an error reply.
type ErrorCode string

const (
	CodeBadArgument   ErrorCode = "BadArgument"
	CodeUnauthorized  ErrorCode = "Unauthorized" // both 401 and 403
	CodeNotFound      ErrorCode = "NotFound"
	CodeStateConflict ErrorCode = "StateConflict"

	// Detail codes.
	CodeNullValue      ErrorCode = "NullValue"      // a required value is missing
	CodeMalformedValue ErrorCode = "MalformedValue" // a value has the wrong form
)

// Operation names one call of the API; the values are the operationIds of
// openapi.yaml. Errors and logs name the operation that failed.
type Operation string

const (
	OpListClusters      Operation = "listClusters"
	OpCreateCluster     Operation = "createCluster"
	OpGetCluster        Operation = "getCluster"
	OpReplaceCluster    Operation = "replaceCluster"
	OpUpdateCluster     Operation = "updateCluster"
	OpDeleteCluster     Operation = "deleteCluster"
	OpGetClusterVersion Operation = "getClusterVersion"
	OpRestartServer     Operation = "restartServer"
)
