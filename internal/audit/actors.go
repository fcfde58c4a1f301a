package audit

import "strings"

// Anonymous is the actor of security events by someone not signed in.
var Anonymous = Actor{Type: ActorUser, ID: "anonymous", Name: "(not signed in)"}

// KnownSystemActors are the actors that are not people: the parts of the
// portal acting on their own, and the visitor who is not signed in.
func KnownSystemActors() []Actor {
	return []Actor{System("worker"), System("approvals"), System("cli"), Anonymous}
}

// SystemActorNamed is the known non-person actor whose id or name is text,
// ignoring case ("worker" or "Clusterdesk worker").
func SystemActorNamed(text string) (Actor, bool) {
	text = strings.TrimSpace(text)
	for _, a := range KnownSystemActors() {
		if strings.EqualFold(a.ID, text) || strings.EqualFold(a.Name, text) {
			return a, true
		}
	}
	return Actor{}, false
}
