package templates

// TokensView is the profile page of personal access tokens.
type TokensView struct {
	Tokens []TokenRow
	// NewSecret is the token just made, shown this once; NewName names it.
	NewSecret, NewName string
	Form               TokenForm
	// APIURL is where the API is, for the example.
	APIURL string
}

// TokenForm is the form that makes a token, as posted.
type TokenForm struct {
	Name   string
	Scopes map[string]bool
	Days   string
	Errors map[string]string
}

// TokenRow is one token in the list.
type TokenRow struct {
	ID                         int64
	Name, Prefix, Scopes       string
	Created, Expires, LastUsed TimeText
	LastUsedIP                 string
	// Status is "active", "expired" or "revoked".
	Status string
}

// TokenLifetimes are the choices of how long a token lives, in days.
var TokenLifetimes = []string{"7", "30", "90", "365"}

// TokenScopeChoices are the scopes a person may give a token, with what
// each allows.
var TokenScopeChoices = []struct{ Value, Label string }{
	{"read", "read: clusters, requests and (for auditors) the audit log"},
	{"request", "request: file, edit, rebase and cancel change requests"},
	{"approve", "approve: approve and reject other people's requests"},
}
