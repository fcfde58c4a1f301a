package templates

import "github.com/a-h/templ"

// RequestNewView is the form that files a stop, start, delete or
// restart-one-server request for a cluster.
type RequestNewView struct {
	ClusterUID  string
	ClusterName string
	Environment string
	// Kind is the operation (stop, start, delete, restart_server); Label
	// says it in words ("Stop the cluster").
	Kind, Label string
	// Explain says what the operation does, in words.
	Explain string
	// Risks are the hints approvers will see, in words.
	Risks []string
	// Takes is what filing it will take (policy, approvals, other open
	// requests); nil when it cannot be worked out.
	Takes *RequestTakesView
	// Offered is false when the operation does not fit the cluster's
	// state: the page then says NotOffered and shows no form.
	Offered    bool
	NotOffered string
	// Others are the operations the cluster does allow now.
	Others []ClusterOperation
	// Reason, InstanceID and ConfirmName are what the person typed.
	Reason      string
	InstanceID  string
	ConfirmName string
	// Servers are the choices of a restart; empty for other kinds.
	Servers []RequestServerOption
	// NeedsConfirm asks for the cluster's name to be typed (delete, and
	// stop in production).
	NeedsConfirm bool
	// Errors maps a field (reason, instance_id, confirm_name) to its
	// message; Top lists problems no field shows.
	Errors map[string]string
	Top    []string
	// FirstError is the field that gets the focus.
	FirstError string
}

// RequestServerOption is one server a restart may choose.
type RequestServerOption struct {
	InstanceID, NodeType, InstanceType, State string
	Checked                                   bool
}

// ClusterOperation is a request the cluster page offers.
type ClusterOperation struct {
	Kind, Label, URL string
}

// Action is where the form posts.
func (v RequestNewView) Action() string { return "/clusters/" + v.ClusterUID + "/requests" }

// inputAttrs ties an input to its error and gives the first one in error
// the focus.
func (v RequestNewView) inputAttrs(field string) templ.Attributes {
	a := fieldErrorAttrs(v.Errors, field)
	if field == v.FirstError {
		a["autofocus"] = true
	}
	return a
}

// radioAttrs ties the i-th server choice to the chooser's error; the first
// choice gets the focus when the chooser is the first field in error.
func (v RequestNewView) radioAttrs(i int) templ.Attributes {
	a := fieldErrorAttrs(v.Errors, "instance_id")
	if i == 0 && v.FirstError == "instance_id" {
		a["autofocus"] = true
	}
	return a
}
