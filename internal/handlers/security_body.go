package handlers

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// DefaultMaxBodyBytes is the body limit when Deps.MaxBodyBytes is zero
// (PORTAL_MAX_BODY_BYTES's default).
const DefaultMaxBodyBytes = 2 << 20

// Errors of limitBody; errors.go maps them to 413 and 415. A body that
// turns out too large while it is read (no Content-Length) surfaces as
// *http.MaxBytesError, mapped to 413 as well.
var (
	errBodyTooLarge = errors.New("handlers: request body too large")
	errMultipart    = errors.New("handlers: multipart bodies are not accepted")
)

// limitBody runs before any guard or handler reads a body:
//
//   - a body announced larger than the limit (Content-Length) is refused
//     with 413 without reading it, whoever sends it and wherever it goes;
//   - a multipart body is refused with 415: no route takes files, and
//     parsing one writes its parts to multipart-* temporary files that
//     nothing would remove (the server only cleans up the form of the
//     request it created, and guards work on copies of it);
//   - any other body is read through http.MaxBytesReader, so a body without
//     Content-Length stops at the limit too (form parsing then fails with
//     *http.MaxBytesError, answered with 413).
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.maxBody {
			return errBodyTooLarge
		}
		if isMultipart(req) {
			return errMultipart
		}
		req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, s.maxBody)
		return next(c)
	}
}

func isMultipart(req *http.Request) bool {
	ct := req.Header.Get(echo.HeaderContentType)
	if ct == "" {
		return false
	}
	media, _, err := mime.ParseMediaType(ct)
	if err != nil { // unparsable: judge by what it starts with
		media = strings.ToLower(strings.TrimSpace(ct))
	}
	return strings.HasPrefix(media, "multipart/")
}
