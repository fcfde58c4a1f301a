// Package static serves the portal's CSS, JavaScript and images, embedded in
// the binary, under content-hashed URLs that can be cached for a year.
//
// Our own files sit beside this file; third-party files (htmx, its SSE
// extension, Pico CSS) are copied from web/node_modules into lib/ by
// `make assets` and are not committed.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js *.svg all:lib
var files embed.FS

// Prefix is the URL path under which assets are served.
const Prefix = "/static/"

// Assets maps file names to hashed URLs and serves them.
type Assets struct {
	paths  map[string]string // "lib/htmx.min.js" -> "/static/lib/htmx.min.3f2a….js"
	byPath map[string]*asset // hashed URL path -> file
}

type asset struct {
	body, gzipped []byte
	contentType   string
	etag          string
}

// Load reads and hashes every embedded file.
func Load() (*Assets, error) { return load(files) }

func load(fsys fs.FS) (*Assets, error) {
	a := &Assets{paths: map[string]string{}, byPath: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(name), ".") {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(name)
		hashed := Prefix + strings.TrimSuffix(name, ext) + "." + hash + ext
		a.paths[name] = hashed
		a.byPath[hashed] = &asset{
			body:        body,
			gzipped:     gzipIfSmaller(body),
			contentType: contentType(ext),
			etag:        `"` + hash + `"`,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	return a, nil
}

// Path returns the hashed URL of a file, such as Path("app.css"). An unknown
// name gives its unhashed URL, which answers 404 (a test checks every name
// the templates use).
func (a *Assets) Path(name string) string {
	if p, ok := a.paths[name]; ok {
		return p
	}
	return Prefix + name
}

// Has reports whether name is an embedded file.
func (a *Assets) Has(name string) bool {
	_, ok := a.paths[name]
	return ok
}

// ServeHTTP serves a hashed URL with a year-long immutable cache lifetime, and
// gzip where the client accepts it.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.byPath[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	h.Set("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gzipped != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = f.gzipped
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func contentType(ext string) string {
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

func gzipIfSmaller(body []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	if buf.Len() >= len(body)*9/10 {
		return nil
	}
	return buf.Bytes()
}

// Favicon is the portal's icon (favicon.svg), also served by the
// development identity provider so that its sign-in page carries it too.
//
//go:embed favicon.svg
var Favicon []byte
