// Package apidoc holds the OpenAPI 3.1 document of the portal's JSON API
// (openapi.json), kept in the repository and embedded in the binary.
package apidoc

import _ "embed"

// OpenAPI is the document, served at /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
