package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clusterdesk/clusterdesk/internal/approvals"
	"github.com/clusterdesk/clusterdesk/internal/cloudapi"
	"github.com/clusterdesk/clusterdesk/internal/inventory"
	"github.com/clusterdesk/clusterdesk/internal/specform"
	"github.com/clusterdesk/clusterdesk/web/templates"
)

// specForm is everything a spec form posts. The spec's inputs stay in
// values (specform reads them); nothing else is read, so extra fields
// (state=approved, requester_id=…) go nowhere.
type specForm struct {
	mode         string // "form" or "json"
	values       url.Values
	name, reason string
	specJSON     string
	specBase     string
	seen         string // update: the resource version the form was built on
	revision     string // edit: the revision the form was built from
	switchTo     string // "form" or "json": switch modes instead of filing
	hardUpdate   bool   // the choice of a hard update is ticked
	review       bool   // check and show the review without filing
}

func bindSpecForm(c echo.Context) (specForm, error) {
	values, err := c.FormParams()
	if err != nil {
		return specForm{}, echo.NewHTTPError(http.StatusBadRequest)
	}
	f := specForm{
		mode: values.Get("mode"), values: values, name: values.Get("name"), reason: values.Get("reason"),
		specJSON: values.Get("spec_json"), specBase: values.Get("spec_base"),
		seen: values.Get("seen_resource_version"), revision: values.Get("revision"),
		switchTo: values.Get("switch_to"), hardUpdate: values.Get("hard_update") != "",
		review: values.Get("review") != "",
	}
	if f.mode != "json" {
		f.mode = "form"
	}
	return f, nil
}

// specTarget is what a spec form changes: a new cluster, a cluster's
// configuration, or a filed create or update request.
type specTarget struct {
	kind approvals.Kind
	// cluster is the cluster updated (update); nil for create.
	cluster *inventory.Cluster
	// start is the spec the form starts from when it carries none.
	start cloudapi.ClusterSpec
	// request is the request edited; nil otherwise.
	request *approvals.Request
}

// proposal is what the target with spec (and the choice of a hard
// update) would ask for, for a check.
func (t specTarget) proposal(name string, spec cloudapi.ClusterSpec, hardUpdate bool) approvals.Proposal {
	p := approvals.Proposal{Kind: t.kind, Name: strings.TrimSpace(name), Proposed: &spec, HardUpdate: hardUpdate}
	if t.cluster != nil {
		current := t.cluster.Spec
		p.ClusterUID, p.Base = t.cluster.UID, &current
	}
	return p
}

// specRead is the spec the posted form holds, with what could not be read.
// The form's own copy of its starting spec (spec_base) keeps what the
// fieldsets do not show.
func specRead(f specForm, t specTarget) (cloudapi.ClusterSpec, specform.Errors) {
	base := t.start
	if f.specBase != "" {
		if b, err := specform.DecodeJSON(f.specBase); err == nil {
			base = b
		}
	}
	if f.mode == "json" {
		spec, err := specform.DecodeJSON(f.specJSON)
		if err != nil {
			return base, specform.Errors{"spec_json": err.Error()}
		}
		return spec, nil
	}
	return specform.Decode(f.values, base)
}

// specBaseText is a spec as the form carries it.
func specBaseText(spec cloudapi.ClusterSpec) string {
	raw, err := json.Marshal(spec)
	if err != nil {
		return ""
	}
	return string(raw)
}

// filledSpecView is the form showing spec, freshly filled.
func filledSpecView(v templates.SpecFormView, spec cloudapi.ClusterSpec) templates.SpecFormView {
	v.Mode, v.Values, v.SpecBase = "form", specform.Encode(spec), specBaseText(spec)
	v.Check = templates.SpecCheckView{Errors: map[string]string{}}
	v.Layout = specform.Layout()
	return v
}

// postedSpecView is the form as posted: every value kept as typed.
func postedSpecView(v templates.SpecFormView, f specForm) templates.SpecFormView {
	v.Mode, v.Values, v.SpecJSON, v.SpecBase = f.mode, f.values, f.specJSON, f.specBase
	v.Reason, v.SeenResourceVersion, v.Revision, v.HardUpdate = f.reason, f.seen, f.revision, f.hardUpdate
	if v.NameEditable {
		v.Name = f.name
	}
	v.Check = templates.SpecCheckView{Errors: map[string]string{}}
	v.Layout = specform.Layout()
	return v
}

// specFormHandle runs a posted spec form: a switch of modes, a live check
// (validate), a review (the whole page checked, without filing: the step
// before filing without JavaScript), or a submit, which calls file once
// the checks pass. file returns where to go, or the error to place on the
// form.
func (s *Server) specFormHandle(c echo.Context, t specTarget, f specForm, v templates.SpecFormView, title string,
	validate bool, file func(spec cloudapi.ClusterSpec) (string, error),
) error {
	spec, parse := specRead(f, t)
	p := t.proposal(f.name, spec, f.hardUpdate)
	if f.switchTo != "" && !validate {
		specReviewChanges(&v, t, spec, parse)
		return s.specSwitch(c, f, v, p, parse, title)
	}
	specReviewChanges(&v, t, spec, parse)
	var found approvals.Violations
	v.Check, found = s.checkSpec(c, p, parse)
	s.specCheckName(c, t, f.name, &v.Check)
	specCheckReason(&v, !validate && !f.review)
	specPlaceCheck(&v)
	specOfferHardUpdate(&v, p, found)
	if len(v.Check.Errors) == 0 && len(v.Check.Top) == 0 {
		v.Preview = s.specPreview(c, t, f.name, spec, f.hardUpdate)
	}
	if validate {
		return s.render(c, http.StatusOK, templates.SpecCheckFragment(v))
	}
	if f.review && len(v.Check.Errors) == 0 && len(v.Check.Top) == 0 {
		return s.render(c, http.StatusOK, templates.SpecFormPage(s.page(c, title), v))
	}
	if !f.review && len(v.Check.Errors) == 0 && len(v.Check.Top) == 0 {
		to, err := file(spec)
		if err == nil {
			return c.Redirect(http.StatusSeeOther, to)
		}
		if err := specPlaceError(&v, err); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusUnprocessableEntity, templates.SpecFormPage(s.page(c, title), v))
}

// specSwitch shows the form's spec in the other mode. What cannot be read
// keeps the current mode, with the problem on its field.
func (s *Server) specSwitch(c echo.Context, f specForm, v templates.SpecFormView, p approvals.Proposal, parse specform.Errors, title string) error {
	if len(parse) > 0 {
		v.Check = templates.SpecCheckView{Errors: map[string]string(parse), Done: true, API: specAPINotAsked}
		specPlaceCheck(&v)
		specOfferHardUpdate(&v, p, nil)
		return s.render(c, http.StatusUnprocessableEntity, templates.SpecFormPage(s.page(c, title), v))
	}
	spec := *p.Proposed
	if f.switchTo == "json" {
		v.Mode, v.SpecJSON = "json", specform.EncodeJSON(spec)
	} else {
		v.Mode, v.Values = "form", specform.Encode(spec)
	}
	v.SpecBase = specBaseText(spec)
	specOfferHardUpdate(&v, p, nil)
	return s.render(c, http.StatusOK, templates.SpecFormPage(s.page(c, title), v))
}

// --- Create ---

const specCreateTitle = "Request a new cluster"

func (s *Server) specCreateView(c echo.Context) (templates.SpecFormView, error) {
	v := templates.SpecFormView{
		Heading: specCreateTitle, Action: "/clusters/new", ValidateURL: "/clusters/new/validate",
		NameEditable: true, Submit: "File the request",
	}
	for _, p := range s.deps.Presets {
		v.Presets = append(v.Presets, templates.SpecPresetOption{Name: p.Name, Description: p.Description})
	}
	clusters, err := inventory.ClusterList(c.Request().Context(), s.deps.DB, inventory.Filter{})
	if err != nil {
		return v, err
	}
	for _, cl := range clusters {
		v.Clusters = append(v.Clusters, templates.SpecClusterOption{UID: cl.UID, Name: cl.Name})
	}
	return v, nil
}

// specCreateForm shows the create form, filled from ?preset= or from an
// existing cluster's spec (?from=uid; its name is not copied).
func (s *Server) specCreateForm(c echo.Context) error {
	v, err := s.specCreateView(c)
	if err != nil {
		return err
	}
	var spec cloudapi.ClusterSpec
	switch preset, from := c.QueryParam("preset"), c.QueryParam("from"); {
	case preset != "":
		p, ok := specform.PresetByName(s.deps.Presets, preset)
		if !ok {
			return echo.ErrNotFound
		}
		spec, v.Preset = p.Spec, p.Name
	case from != "":
		cl, err := inventory.ClusterGet(c.Request().Context(), s.deps.DB, from)
		if err != nil {
			return err
		}
		spec, v.From = cl.Spec, cl.UID
	}
	v = filledSpecView(v, spec)
	specReviewChanges(&v, specTarget{kind: approvals.KindCreate}, spec, nil)
	return s.ok(c, templates.SpecFormPage(s.page(c, specCreateTitle), v))
}

// specCreate files a create request (or checks or switches the form).
func (s *Server) specCreate(c echo.Context) error {
	return s.specCreatePost(c, false)
}

// specCreateValidate is the create form's live check.
func (s *Server) specCreateValidate(c echo.Context) error {
	return s.specCreatePost(c, true)
}

func (s *Server) specCreatePost(c echo.Context, validate bool) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	f, err := bindSpecForm(c)
	if err != nil {
		return err
	}
	v, err := s.specCreateView(c)
	if err != nil {
		return err
	}
	v = postedSpecView(v, f)
	t := specTarget{kind: approvals.KindCreate}
	return s.specFormHandle(c, t, f, v, specCreateTitle, validate, func(spec cloudapi.ClusterSpec) (string, error) {
		r, err := s.deps.Approvals.Create(c.Request().Context(), requestActor(c), approvals.NewRequest{
			Kind: approvals.KindCreate, Name: f.name, Reason: f.reason, Spec: &spec})
		if err != nil {
			return "", err // a taken name goes on its field (specPlaceError)
		}
		return "/requests/" + strconv.FormatInt(r.ID, 10), nil
	})
}

// --- Update ---

func specUpdateTitle(cl inventory.Cluster) string { return "Update the configuration of " + cl.Name }

func specUpdateView(cl inventory.Cluster) templates.SpecFormView {
	return templates.SpecFormView{
		Heading: specUpdateTitle(cl), ClusterUID: cl.UID, ClusterName: cl.Name, Name: cl.Name,
		Action: "/clusters/" + cl.UID + "/update", ValidateURL: "/clusters/" + cl.UID + "/update/validate",
		Submit: "File the request",
	}
}

// specCluster reads cluster uid from the inventory; a deleted cluster
// takes no request.
func (s *Server) specCluster(c echo.Context, uid string, refresh bool) (inventory.Cluster, error) {
	var cl inventory.Cluster
	var err error
	if refresh {
		cl, err = s.refreshedCluster(c, uid)
	} else {
		cl, err = inventory.ClusterGet(c.Request().Context(), s.deps.DB, uid)
	}
	if err == nil && cl.Deleted() {
		err = fmt.Errorf("handlers: cluster %s was deleted: %w", uid, inventory.ErrNotFound)
	}
	return cl, err
}

// specUpdateForm shows the update form filled with the cluster's current
// spec as the inventory has it, and the version it is.
func (s *Server) specUpdateForm(c echo.Context) error {
	cl, err := s.specCluster(c, c.Param("uid"), false)
	if err != nil {
		return err
	}
	v := filledSpecView(specUpdateView(cl), cl.Spec)
	v.SeenResourceVersion = strconv.FormatInt(cl.ResourceVersion, 10)
	specReviewChanges(&v, specTarget{kind: approvals.KindUpdate, cluster: &cl}, cl.Spec, nil)
	return s.ok(c, templates.SpecFormPage(s.page(c, specUpdateTitle(cl)), v))
}

// specUpdate files an update request: the domain stores the minimal merge
// patch from the cluster's spec to the form's.
func (s *Server) specUpdate(c echo.Context) error { return s.specUpdatePost(c, false) }

// specUpdateValidate is the update form's live check.
func (s *Server) specUpdateValidate(c echo.Context) error { return s.specUpdatePost(c, true) }

func (s *Server) specUpdatePost(c echo.Context, validate bool) error {
	if s.deps.Approvals == nil {
		return errRequestsUnavailable
	}
	f, err := bindSpecForm(c)
	if err != nil {
		return err
	}
	// Filing refreshes the cluster so the base is current; checking while
	// typing uses the inventory.
	cl, err := s.specCluster(c, c.Param("uid"), !validate && f.switchTo == "")
	if err != nil {
		return err
	}
	v := postedSpecView(specUpdateView(cl), f)
	t := specTarget{kind: approvals.KindUpdate, cluster: &cl, start: cl.Spec}
	return s.specFormHandle(c, t, f, v, specUpdateTitle(cl), validate, func(spec cloudapi.ClusterSpec) (string, error) {
		seen, err := strconv.ParseInt(f.seen, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%w: the form lost the version it was built on; open it again", approvals.ErrInvalid)
		}
		r, err := s.deps.Approvals.Create(c.Request().Context(), requestActor(c), approvals.NewRequest{
			Kind: approvals.KindUpdate, ClusterUID: cl.UID, Reason: f.reason, Spec: &spec, SeenResourceVersion: &seen,
			HardUpdate: f.hardUpdate})
		if err != nil {
			return "", err
		}
		return "/requests/" + strconv.FormatInt(r.ID, 10), nil
	})
}

// specOperations are the cluster page's buttons for the spec forms.
func specOperations(cl inventory.Cluster) []templates.ClusterOperation {
	if cl.Deleted() {
		return nil
	}
	return []templates.ClusterOperation{{Kind: string(approvals.KindUpdate), Label: "Update configuration", URL: "/clusters/" + cl.UID + "/update"}}
}
