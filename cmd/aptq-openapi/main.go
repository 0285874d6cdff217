// Command aptq-openapi writes the API's OpenAPI document (go generate in
// api/ runs it to refresh api/openapi.json).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/aptq/aptq/api"
)

func main() {
	out := flag.String("o", "openapi.json", "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "aptq-openapi:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	doc, err := api.OpenAPIDocument()
	if err != nil {
		return err
	}
	return os.WriteFile(out, doc, 0o644)
}
