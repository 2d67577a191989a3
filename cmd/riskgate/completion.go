package main

import (
	"os"

	"github.com/alecthomas/kong"

	"github.com/riskgate/riskgate/internal/completion"
)

type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

func (c *completionCmd) Help() string {
	return `Load it in the current shell:

  source <(riskgate completion bash)      # bash; or write it to /etc/bash_completion.d/riskgate
  source <(riskgate completion zsh)       # zsh
  riskgate completion fish | source       # fish; or write it to ~/.config/fish/completions/riskgate.fish`
}

func (c *completionCmd) Run(k *kong.Kong) error {
	return completion.Write(os.Stdout, c.Shell, "riskgate", k.Model)
}
