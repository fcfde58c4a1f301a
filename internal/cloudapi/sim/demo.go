package sim

import (
	"encoding/json"
	"fmt"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// demoCluster is a seeded cluster: its first document and the merge
// patches applied after it, each making one more resource version.
type demoCluster struct {
	doc     string
	changes []string
}

var demoClusters = []demoCluster{
	{
		doc: `{"metadata": {"name": "analytics-prod"},
		 "spec": {"version": "2024.01", "desiredState": "STARTED",
		  "awsInstanceRole": "imply-prod-instance", "encryptVolumes": true,
		  "awsTags": [{"name": "team", "value": "data-platform"}, {"name": "env", "value": "production"}],
		  "commonRuntimeProperties": [{"name": "druid.server.http.numThreads", "value": "60"}],
		  "master": {"replicas": 3, "instanceType": "m5.large", "coordinatorRuntimeProperties": [], "overlordRuntimeProperties": []},
		  "query": {"replicas": 2, "instanceType": "c5.2xlarge", "brokerRuntimeProperties": [], "routerRuntimeProperties": []},
		  "data": {"historicalRuntimeProperties": [], "middleManagerRuntimeProperties": [],
		   "tier1": {"replicas": 3, "instanceType": "i3.2xlarge"},
		   "tier2": {"replicas": 2, "instanceType": "d3.xlarge"}},
		  "metadataStore": {"instanceType": "db.r5.large", "diskSize": 100, "backupRetention": 14, "monitoring": true, "encrypt": true},
		  "pivot": {"accessMode": "OIDC", "roleAuthority": "EXTERNAL", "options": "issuer: https://login.example.com\nclientId: pivot"},
		  "deepStorage": {"path": "s3://acme-druid-prod/segments", "encrypt": true},
		  "druidExtensions": ["druid-datasketches", "druid-kafka-indexing-service"],
		  "featureFlags": [], "customFiles": []}}`,
		changes: []string{`{"spec": {"data": {"tier1": {"replicas": 4}}}}`},
	},
	{
		doc: `{"metadata": {"name": "analytics-staging"},
		 "spec": {"version": "2023.10", "desiredState": "STARTED",
		  "awsInstanceRole": "imply-staging-instance", "encryptVolumes": true,
		  "awsTags": [{"name": "env", "value": "staging"}],
		  "master": {"replicas": 1, "instanceType": "t3.large"},
		  "query": {"replicas": 1, "instanceType": "t3.large"},
		  "data": {"tier1": {"replicas": 2, "instanceType": "m5d.xlarge"}},
		  "metadataStore": {"instanceType": "db.t3.small", "diskSize": 20, "backupRetention": 7, "encrypt": true},
		  "pivot": {"accessMode": "PROXIED"},
		  "deepStorage": {"path": "s3://acme-druid-staging/segments", "encrypt": true}}}`,
		changes: []string{`{"spec": {"version": "2024.01"}}`},
	},
	{
		doc: `{"metadata": {"name": "clickstream-dev"},
		 "spec": {"version": "2024.01", "desiredState": "STOPPED",
		  "awsInstanceRole": "imply-dev-instance",
		  "master": {"replicas": 1, "instanceType": "t3.medium"},
		  "query": {"replicas": 1, "instanceType": "t3.medium"},
		  "data": {"tier1": {"replicas": 1, "instanceType": "t3.medium"}},
		  "deepStorage": {"path": "s3://acme-druid-dev/clickstream"}}}`,
	},
}

// seedDemo creates the demo clusters, already settled. Callers hold s.mu.
func (s *Server) seedDemo() {
	for _, d := range demoClusters {
		doc, err := decodeDocument([]byte(d.doc))
		if err != nil {
			panic("sim: demo cluster: " + err.Error()) // a bug in the literal above
		}
		s.fill(doc)
		c := s.createCluster(doc)
		s.finishNow(c)
		for _, patch := range d.changes {
			merged, err := cloudapi.ApplyMergePatch(c.Doc, json.RawMessage(patch))
			if err != nil {
				panic("sim: demo change: " + err.Error())
			}
			next, _ := decodeDocument(merged)
			s.fill(next)
			spec, _ := next["spec"].(map[string]any)
			p, _ := s.planChange(c, c.spec(), spec, true)
			s.commit(c, encodeDocument(next), p)
			s.finishNow(c)
		}
	}
}

// seedTemplate is the document of each cluster SeedClusters makes.
const seedTemplate = `{"metadata": {"name": ""},
 "spec": {"version": "2024.01", "desiredState": "STARTED",
  "awsInstanceRole": "imply-load-instance",
  "awsTags": [{"name": "env", "value": "load"}],
  "master": {"replicas": 1, "instanceType": "t3.medium"},
  "query": {"replicas": 1, "instanceType": "t3.medium"},
  "data": {"tier1": {"replicas": 1, "instanceType": "t3.medium"}},
  "deepStorage": {"path": "s3://acme-druid-load/segments"}}}`

// SeedClusters creates n small clusters, already settled, named
// prefix-0001, prefix-0002 …, for tests and benchmarks of many clusters,
// and returns their uids in that order.
func (s *Server) SeedClusters(prefix string, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	uids := make([]string, n)
	for i := range n {
		doc, err := decodeDocument([]byte(seedTemplate))
		if err != nil {
			panic("sim: seed cluster: " + err.Error()) // a bug in the literal above
		}
		doc["metadata"].(map[string]any)["name"] = fmt.Sprintf("%s-%04d", prefix, i+1)
		s.fill(doc)
		c := s.createCluster(doc)
		s.finishNow(c)
		uids[i] = c.UID
	}
	s.persist()
	return uids
}
