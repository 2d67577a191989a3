package main

import (
	"bytes"
	"html/template"
	"net/http"
)

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>{{end}}
{{define "tail"}}</body></html>{{end}}

{{define "login"}}{{template "head"}}
<h1>Sign in</h1>
{{with .Error}}<p role="alert" class="error">{{.}}</p>{{end}}
<form method="post" action="/login">
  <label>Username <input name="username" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button>Sign in</button>
</form>
{{template "tail"}}{{end}}

{{define "code"}}{{template "head"}}
<h1>Check your e-mail</h1>
<p>This sign-in needs one more step: we sent a six-digit code to the address on your account.</p>
{{with .Error}}<p role="alert" class="error">{{.}}</p>{{end}}
<form method="post" action="/login/code">
  <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required></label>
  <button>Continue</button>
</form>
{{template "tail"}}{{end}}

{{define "refused"}}{{template "head"}}
<h1>Sign-in refused</h1>
<p id="refused">We could not let this sign-in through. If it is you, try again later or contact support.</p>
{{template "tail"}}{{end}}

{{define "welcome"}}{{template "head"}}
<h1>Welcome</h1>
<p id="signed-in">Signed in as {{.User}}.</p>
{{with .Notice}}<p role="status" id="new-sign-in">We e-mailed you about this sign-in: {{.}}</p>{{end}}
<form method="post" action="/logout"><button>Sign out</button></form>
{{template "tail"}}{{end}}
`))

const (
	loginPage   = "login"
	codePage    = "code"
	refusedPage = "refused"
	welcomePage = "welcome"
)

func render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, page, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
