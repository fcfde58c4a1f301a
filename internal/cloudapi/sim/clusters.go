package sim

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
)

// Handlers of the cluster operations. Each takes s.mu for its whole run, so
// calls on one simulator are serialised like the service's "one update at
// a time".

func (s *Server) handleList(*http.Request, []byte) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	clusters := slices.SortedFunc(maps.Values(s.clusters), func(a, b *cluster) int {
		if d := a.Created.Compare(b.Created); d != 0 {
			return d
		}
		return strings.Compare(a.UID, b.UID)
	})
	out := make([]json.RawMessage, len(clusters))
	for i, c := range clusters {
		out[i] = c.render()
	}
	return response{status: http.StatusOK, body: out}
}

func (s *Server) handleGet(r *http.Request, _ []byte) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, missing := s.find(r)
	if c == nil {
		return missing
	}
	return response{status: http.StatusOK, body: c.render()}
}

// handleCreate validates the new cluster and starts provisioning it. A dry
// run answers with the document as validated (and filled, with
// Config.FillDefaults): no uid, no status (BEHAVIOUR.md §6, inferred).
func (s *Server) handleCreate(r *http.Request, body []byte) response {
	doc, bad := parseDocument(body)
	if bad != nil {
		return *bad
	}
	dropServerOwned(doc)
	if details := s.validate(doc); len(details) > 0 {
		return badArgument(details...)
	}
	s.fill(doc)
	if flag(r, "dryRun") {
		return response{status: http.StatusOK, body: doc}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.createCluster(doc)
	s.persist()
	return response{status: http.StatusOK, body: c.render(), mutated: true, clusterID: c.UID}
}

// handleReplace replaces the stored document. A body without
// spec.pivot.accessMode gets the documented 500.
func (s *Server) handleReplace(r *http.Request, body []byte) response {
	doc, bad := parseDocument(body)
	if bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, missing := s.find(r)
	if c == nil {
		return missing
	}
	if mode, _ := lookup(doc, "spec.pivot.accessMode").(string); mode == "" {
		// The body shape of this 500 is inferred (BEHAVIOUR.md §8).
		return errorReply(http.StatusInternalServerError, "InternalServerError", "Internal server error")
	}
	dropServerOwned(doc)
	return s.change(r, c, doc)
}

// handleUpdate merges a JSON merge patch into the stored document.
func (s *Server) handleUpdate(r *http.Request, body []byte) response {
	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/merge-patch+json" {
		// 415 is inferred (openapi.yaml); the media type is documented.
		return errorReply(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "Content-Type must be application/merge-patch+json")
	}
	if _, bad := parseDocument(body); bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, missing := s.find(r)
	if c == nil {
		return missing
	}
	merged, err := cloudapi.ApplyMergePatch(c.Doc, body)
	if err != nil {
		return errorReply(http.StatusBadRequest, cloudapi.CodeBadArgument, "Request body is not a valid merge patch")
	}
	doc, _ := decodeDocument(merged) // a patch object merged into an object is an object
	dropServerOwned(doc)
	return s.change(r, c, doc)
}

// change applies a new document to c (PUT and PATCH): 409 while c is busy,
// 400 for an invalid document, nothing for an unchanged one; otherwise a
// new resource version and an update.
func (s *Server) change(r *http.Request, c *cluster, doc map[string]any) response {
	target := string(c.steadyState(s.cfg.RunningState))
	if state, ok := lookup(doc, "spec.desiredState").(string); ok && state != "" {
		target = state
	}
	if c.Status.State.Busy() {
		return c.conflict(target) // dry runs too (BEHAVIOUR.md §6, inferred)
	}
	setUID(doc, c.UID)
	if details := s.validate(doc); len(details) > 0 {
		return badArgument(details...)
	}
	s.fill(doc)
	newDoc := encodeDocument(doc)
	if bytes.Equal(newDoc, c.Doc) {
		// A no-op makes no version (BEHAVIOUR.md §5, inferred).
		return response{status: http.StatusOK, body: c.render()}
	}
	spec, _ := doc["spec"].(map[string]any)
	p, detail := s.planChange(c, c.spec(), spec, flag(r, "force"))
	if detail != nil {
		return badArgument(*detail)
	}
	if flag(r, "dryRun") {
		preview := *c
		preview.Doc = newDoc
		return response{status: http.StatusOK, body: preview.render()}
	}
	s.commit(c, newDoc, p)
	s.persist()
	return response{status: http.StatusOK, body: c.render(), mutated: true}
}

// commit makes newDoc the next resource version of c, keeping the current
// one in the history, and starts applying it by p.
func (s *Server) commit(c *cluster, newDoc []byte, p *plan) {
	c.History = append(c.History, c.render())
	c.Doc = newDoc
	c.Status.ResourceVersion++
	c.event("Configuration version %d accepted: %s update in %d stage(s)", c.Status.ResourceVersion, p.Kind, len(p.Stages))
	s.start(c, p)
}

// handleDelete removes a steady cluster at once (BEHAVIOUR.md §4: refusing
// while busy, and the target state named in the 409, are inferred).
func (s *Server) handleDelete(r *http.Request, _ []byte) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, missing := s.find(r)
	if c == nil {
		return missing
	}
	if c.Status.State.Busy() {
		return c.conflict("DELETED")
	}
	c.stopTimer()
	delete(s.clusters, c.UID)
	s.persist()
	return response{status: http.StatusNoContent, mutated: true}
}

// handleHistory returns a cluster as it was at a resource version, with the
// documented 404 for a version that does not exist.
func (s *Server) handleHistory(r *http.Request, _ []byte) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, missing := s.find(r)
	if c == nil {
		return missing
	}
	raw := r.PathValue("resourceVersion")
	v, err := strconv.ParseInt(raw, 10, 64)
	switch {
	case err == nil && v >= 0 && v < int64(len(c.History)):
		return response{status: http.StatusOK, body: c.History[v]}
	case err == nil && v == c.Status.ResourceVersion:
		return response{status: http.StatusOK, body: c.render()}
	}
	return errorReply(http.StatusNotFound, cloudapi.CodeNotFound,
		fmt.Sprintf("Cluster [%s] resource version [%s] was not found", c.UID, raw))
}

// handleRestart replaces one server; the cluster is UPDATING meanwhile and
// its resource version stays (BEHAVIOUR.md §7, inferred).
func (s *Server) handleRestart(r *http.Request, _ []byte) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, missing := s.find(r)
	if c == nil {
		return missing
	}
	if c.Status.State.Busy() {
		return c.conflict(string(c.steadyState(s.cfg.RunningState)))
	}
	id := r.PathValue("instanceId")
	i := c.serverIndex(id)
	if i < 0 {
		return errorReply(http.StatusNotFound, cloudapi.CodeNotFound,
			fmt.Sprintf("Server [%s] of cluster [%s] was not found", id, c.UID))
	}
	srv := c.Servers[i]
	c.event("Restart of server %s (%s) requested", id, srv.Group.nodeType())
	s.start(c, &plan{
		Kind:   planRestart,
		Stages: [][]action{{{Kind: "replace", Group: srv.Group, Slot: srv.Slot}}},
		Final:  c.Status.State,
	})
	s.persist()
	return response{status: http.StatusNoContent, mutated: true}
}

// createCluster stores a validated document as a new cluster and starts
// provisioning it.
func (s *Server) createCluster(doc map[string]any) *cluster {
	uid := newUID()
	setUID(doc, uid)
	short := uid[:8]
	c := &cluster{
		UID:     uid,
		Created: time.Now().UTC(),
		Doc:     encodeDocument(doc),
		Status: cloudapi.ClusterStatus{
			Status:               s.cfg.HealthyStatus,
			RootCertificate:      "-----BEGIN CERTIFICATE-----\nU0lNVUxBVEVEIENFUlRJRklDQVRF\n-----END CERTIFICATE-----\n",
			InitialDruidPassword: rand.Text(),
			LoadBalancers: &cloudapi.LoadBalancers{
				Public:  "c-" + short + ".public.sim.implycloud.test",
				Private: "c-" + short + ".private.sim.implycloud.test",
			},
		},
	}
	s.clusters[uid] = c
	name, _ := lookup(doc, "metadata.name").(string)
	c.event("Cluster %q created", name)
	spec, _ := doc["spec"].(map[string]any)
	final := s.cfg.RunningState
	if spec["desiredState"] == string(cloudapi.DesiredStopped) {
		final = cloudapi.StateStopped
	}
	s.start(c, &plan{
		Kind:   planProvision,
		Stages: [][]action{diffActions(nil, topology{}, topologyOf(spec))},
		Final:  final,
	})
	return c
}

// find returns the cluster named by the path, or nil and the 404 reply.
func (s *Server) find(r *http.Request) (*cluster, response) {
	id := r.PathValue("clusterId")
	if c := s.clusters[id]; c != nil {
		return c, response{}
	}
	return nil, errorReply(http.StatusNotFound, cloudapi.CodeNotFound, fmt.Sprintf("Cluster [%s] was not found", id))
}

// parseDocument decodes a request body that must be a JSON object.
func parseDocument(body []byte) (map[string]any, *response) {
	fail := func(msg string) (map[string]any, *response) {
		resp := errorReply(http.StatusBadRequest, cloudapi.CodeBadArgument, msg)
		return nil, &resp
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fail("Request body is required")
	}
	doc, err := decodeDocument(body)
	if err != nil {
		return fail("Request body is not a JSON object: " + err.Error())
	}
	return doc, nil
}

// decodeDocument decodes a JSON object, keeping numbers as written.
func decodeDocument(data []byte) (map[string]any, error) {
	if !json.Valid(data) {
		return nil, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("null")
	}
	return doc, nil
}

// encodeDocument encodes a decoded document canonically (sorted members),
// so that equal documents have equal bytes.
func encodeDocument(doc map[string]any) json.RawMessage {
	b, _ := json.Marshal(doc) // decoded JSON always encodes
	return b
}

// dropServerOwned removes what clients may not set: status and
// metadata.uid (BEHAVIOUR.md §3, inferred).
func dropServerOwned(doc map[string]any) {
	delete(doc, "status")
	if meta, ok := doc["metadata"].(map[string]any); ok {
		delete(meta, "uid")
	}
}

func setUID(doc map[string]any, uid string) {
	if meta, ok := doc["metadata"].(map[string]any); ok {
		meta["uid"] = uid
	}
}

func badArgument(details ...cloudapi.ErrorDetail) response {
	return errorReply(http.StatusBadRequest, cloudapi.CodeBadArgument, "Request contains invalid arguments", details...)
}

func flag(r *http.Request, name string) bool { return r.URL.Query().Get(name) == "true" }
