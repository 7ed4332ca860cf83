package hubhttp

import (
	"bytes"
	"embed"
	"html"
	"net/http"
	"strings"
)

// web holds the console: one page, its script and its style sheet. No file is fetched
// from anywhere else, so the console works offline.
//
//go:embed web
var web embed.FS

func (x *Handler) initConsole() error {
	page, err := web.ReadFile("web/index.html")
	if err != nil {
		return err
	}
	x.index = bytes.ReplaceAll(page, []byte("{{title}}"), []byte(html.EscapeString(x.opts.Title)))
	x.static = http.FileServerFS(subFS(web, "web"))
	return nil
}

// consoleHandler serves the console's page at "/" (and at any path that is not a file, so
// that deep links work) and its files.
func (x *Handler) consoleHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name != "" && name != "index.html" {
			if f, err := web.Open("web/" + name); err == nil {
				_ = f.Close()
				w.Header().Set("Cache-Control", "no-cache")
				x.static.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(x.index)
	})
}
