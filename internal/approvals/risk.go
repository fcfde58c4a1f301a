package approvals

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// RiskCode names a risk hint. Policies match on these codes.
type RiskCode string

// The risk hints.
const (
	RiskScaleDown    RiskCode = "scale_down"           // fewer servers in a tier
	RiskInstanceType RiskCode = "instance_type_change" // servers replaced: a hard update
	RiskVersion      RiskCode = "version_change"       // a new Imply release
	RiskDeepStorage  RiskCode = "deep_storage_change"  // segments' location changes
	RiskEncryption   RiskCode = "encryption_change"    // volume, segment or metadata encryption
	RiskHardUpdate   RiskCode = "hard_update"          // every affected server restarts at once (force=true)
	RiskStop         RiskCode = "stop"                 // the cluster stops serving
	RiskDelete       RiskCode = "delete"               // the cluster goes away
	RiskProduction   RiskCode = "production"           // a production cluster
)

// RiskCodes lists every code in the order hints are shown.
func RiskCodes() []RiskCode {
	return []RiskCode{RiskDelete, RiskStop, RiskHardUpdate, RiskScaleDown, RiskInstanceType, RiskVersion, RiskDeepStorage, RiskEncryption, RiskProduction}
}

// Risk is a hint for approvers derived from a request's kind, diff,
// payload and environment. Message says the risk in words (it never relies on colour)
// and names the values involved; Paths are the diff entries behind it.
type Risk struct {
	Code    RiskCode
	Message string
	Paths   []string
}

// ProductionEnvironment is the environment whose requests carry the
// production hint.
const ProductionEnvironment = "production"

var (
	replicasPath     = regexp.MustCompile(`^spec\.(master|query|data\.tier[1-3])\.replicas$`)
	instanceTypePath = regexp.MustCompile(`^spec\.(master|query|data\.tier[1-3]|metadataStore)\.instanceType$`)
	// serverInstanceTypePath are the instance types of server groups,
	// whose change replaces servers (the metadata store is no server).
	serverInstanceTypePath = regexp.MustCompile(`^spec\.(master|query|data\.tier[1-3])\.instanceType$`)
	encryptionPaths        = []string{"spec.encryptVolumes", "spec.deepStorage.encrypt", "spec.metadataStore.encrypt"}
)

// Risks derives the hints of a request of kind with diff d and payload p
// on a cluster in environments, in the order of RiskCodes. A create
// request has no "change" hints (nothing exists yet to change) but can be
// production. The hard update hint comes from the payload (the
// requester's reviewed choice); its paths are the diff's entries that
// restart servers (the version and the server groups' instance types).
func Risks(kind Kind, d Diff, p Payload, environments []string) []Risk {
	found := map[RiskCode]*Risk{}
	add := func(code RiskCode, path, detail string) {
		r := found[code]
		if r == nil {
			r = &Risk{Code: code}
			found[code] = r
		}
		if path != "" {
			r.Paths = append(r.Paths, path)
		}
		if detail != "" {
			if r.Message != "" {
				r.Message += "; "
			}
			r.Message += detail
		}
	}
	switch kind {
	case KindDelete:
		add(RiskDelete, "", "")
	case KindStop:
		add(RiskStop, "", "")
	}
	if p.HardUpdate {
		add(RiskHardUpdate, "", "")
		for _, c := range d {
			if c.Path == "spec.version" || serverInstanceTypePath.MatchString(c.Path) {
				add(RiskHardUpdate, c.Path, "")
			}
		}
	}
	if kind != KindCreate {
		for _, c := range d {
			switch {
			case replicasPath.MatchString(c.Path):
				before, bok := number(c.Before)
				after, aok := number(c.After)
				switch {
				case bok && aok && after < before:
					add(RiskScaleDown, c.Path, fmt.Sprintf("%s goes from %s to %s", c.Path, show(c.Before), show(c.After)))
				case bok && c.After == nil:
					add(RiskScaleDown, c.Path, fmt.Sprintf("%s (%s) is removed", strings.TrimSuffix(c.Path, ".replicas"), plural(before, "server")))
				}
			case instanceTypePath.MatchString(c.Path) && c.Before != nil:
				add(RiskInstanceType, c.Path, fmt.Sprintf("%s goes from %s to %s", c.Path, show(c.Before), show(c.After)))
			case c.Path == "spec.version" && c.Before != nil:
				add(RiskVersion, c.Path, fmt.Sprintf("from %s to %s", show(c.Before), show(c.After)))
			case c.Path == "spec.deepStorage.path" && c.Before != nil:
				add(RiskDeepStorage, c.Path, fmt.Sprintf("%s goes from %s to %s", c.Path, show(c.Before), show(c.After)))
			case slices.Contains(encryptionPaths, c.Path):
				add(RiskEncryption, c.Path, fmt.Sprintf("%s goes from %s to %s", c.Path, show(c.Before), show(c.After)))
			case c.Path == "spec.desiredState" && string(c.After) == `"STOPPED"` && kind != KindStop:
				add(RiskStop, c.Path, "")
			}
		}
	}
	if slices.Contains(environments, ProductionEnvironment) {
		add(RiskProduction, "", "")
	}

	var risks []Risk
	for _, code := range RiskCodes() {
		r := found[code]
		if r == nil {
			continue
		}
		r.Message = riskSentence(code, r.Message)
		risks = append(risks, *r)
	}
	return risks
}

// riskSentence turns the details gathered for code into the hint's words.
func riskSentence(code RiskCode, details string) string {
	switch code {
	case RiskDelete:
		return "Deletes the cluster and all its servers. This cannot be undone."
	case RiskStop:
		return "Stops the cluster: every server shuts down and queries fail until it is started again."
	case RiskHardUpdate:
		return "Hard update (force=true): every affected server restarts at once, not one by one; the cluster is down (downtime) until they are back."
	case RiskScaleDown:
		return "Fewer servers (scale-down): " + details + ". Data and query capacity shrink; segments move between servers."
	case RiskInstanceType:
		return "Instance type change (hard update): " + details + ". The servers are replaced."
	case RiskVersion:
		return "Imply version change " + details + ". Every server is updated to the new release."
	case RiskDeepStorage:
		return "Deep storage change: " + details + ". Existing segments are not moved."
	case RiskEncryption:
		return "Encryption change: " + details + "."
	case RiskProduction:
		return "Production environment: this changes a production cluster."
	}
	return string(code)
}

// riskCodes returns the codes of risks.
func riskCodes(risks []Risk) []string {
	codes := make([]string, len(risks))
	for i, r := range risks {
		codes[i] = string(r.Code)
	}
	return codes
}

func number(raw json.RawMessage) (float64, bool) {
	var f float64
	if raw == nil || json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

// show renders a JSON value for a sentence: strings unquoted, absent as
// "none".
func show(raw json.RawMessage) string {
	if raw == nil {
		return "none"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func plural(n float64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%g %ss", n, word)
}
