package handlers

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// errUnstorableInput: a field holds what PostgreSQL cannot store, a NUL
// byte or invalid UTF-8 (text: 22021), or the JSON escape \u0000 (jsonb:
// 22P05). errors.go maps it to 422; refuseUnstorableInput names the field.
var errUnstorableInput = errors.New("handlers: a field holds a NUL byte or invalid UTF-8")

// refuseUnstorableInput runs before any guard or handler (after limitBody)
// and refuses with 422 a request whose path parameters, query parameters or
// url-encoded form fields (names or values) hold a NUL byte, invalid UTF-8
// or the JSON escape \u0000, which decoding a spec's JSON turns into a NUL.
// One rule at the edge, so no field can reach the database and answer 500.
// The message names the field: on the error page, or for htmx in #flash, so
// that the form stays on screen with everything typed.
//
// It parses the form on the request the handler will see (loadSession's
// copies share the parsed form), so the handler still reads every field. A
// body over the limit found while parsing is a 413 (errors.go), any other
// unparsable body or query a 400.
func (s *Server) refuseUnstorableInput(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := c.Request().ParseForm(); err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				return err
			}
			return echo.ErrBadRequest.WithInternal(err)
		}
		if field, ok := unstorableField(c); ok {
			return s.refuseUnstorable(c, field)
		}
		return next(c)
	}
}

// unstorableField returns the first field, in a stable order (path
// parameters, then form and query fields by name), that cannot be stored.
func unstorableField(c echo.Context) (string, bool) {
	values := c.ParamValues()
	for i, name := range c.ParamNames() {
		if i >= len(values) {
			break
		}
		v := values[i]
		// echo leaves a parameter escaped when the path had to be sent
		// escaped (%ff, not %FF), so judge the unescaped value too.
		unescaped, err := url.PathUnescape(v)
		if unstorable(v) || err == nil && unstorable(unescaped) {
			if name == "*" {
				name = "path"
			}
			return name, true
		}
	}
	form := c.Request().Form // the query and the body's fields
	for _, name := range slices.Sorted(maps.Keys(form)) {
		if unstorable(name) || slices.ContainsFunc(form[name], unstorable) {
			return name, true
		}
	}
	return "", false
}

// unstorable reports whether PostgreSQL would refuse s as text or, were s a
// JSON document, as jsonb.
func unstorable(s string) bool {
	return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || hasJSONNul(s)
}

// hasJSONNul reports whether s holds the JSON escape \u0000 whose backslash
// is not itself escaped (`\\u0000` is the six characters, storable).
func hasJSONNul(s string) bool {
	const escape = `\u0000`
	for from := 0; ; {
		i := strings.Index(s[from:], escape)
		if i < 0 {
			return false
		}
		i += from
		backslashes := 0
		for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return true
		}
		from = i + 1
	}
}

// unstorableMessage tells the person which field to fix. The name is
// quoted with Go's escapes, so a name that is itself unstorable shows.
func unstorableMessage(field string) string {
	return fmt.Sprintf("The field %s contains a character that cannot be stored (a NUL byte or invalid UTF-8); remove it and send again.",
		strconv.Quote(field))
}

// refuseUnstorable answers 422 naming the field, through the central
// error handler. The check runs before the guards: the session is loaded
// only so that an error page shows who is signed in, with the CSRF token
// to try again.
func (s *Server) refuseUnstorable(c echo.Context, field string) error {
	_, _ = s.loadSession(c)
	return say(errUnstorableInput, unstorableMessage(field))
}
