package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) loginCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "login --server URL [--profile NAME]",
		Short: "Check an API token and save it in the config file",
		Long: `Check an API token against the server and save server and token as a profile
of the config file ($XDG_CONFIG_HOME/aptq/config.toml, else
~/.config/aptq/config.toml, or --config / APTQ_CONFIG), which is written with
mode 0600 in a directory of mode 0700.

The token is read from stdin (a prompt without echo on a terminal), or from
--token. The profile is --profile / APTQ_PROFILE, else the file's
default_profile, else "default"; the first profile saved becomes the default.
Other profiles are kept; comments in the file are not. A token the server
refuses is not saved (exit 4).

The file may also name a signing key per profile, e.g.:

  default_profile = "prod"
  [profiles.prod]
  server = "https://aptq.example.com"
  token = "…"
  key = "/home/me/keys/signing.asc"   # or ["old.asc", "new.asc"], or gpg = ["KEYID"]
  passphrase_file = "/home/me/keys/passphrase"

Each setting is taken from its flag, else its APTQ_* variable, else the profile.`,
		Example: `  aptq login --server https://aptq.example.com < token.txt
  aptq login --server https://staging.example.com --profile staging`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{noConfig: "login reads and writes the file itself"},
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, _ []string) error {
			return a.login(cmd)
		}),
	}
	return cmd
}

func (a *app) login(cmd *cobra.Command) error {
	path, _ := a.configFilePath()
	if path == "" {
		return usageErrorf("nowhere to save the token: set HOME or XDG_CONFIG_HOME, or pass --config FILE")
	}
	cf, _, err := readConfig(path)
	if err != nil {
		return err
	}
	name := firstNonEmpty(a.profileName(cf), "default")
	saved := cf.Profiles[name]
	server := firstNonEmpty(a.server, a.getenv("APTQ_URL"), saved.Server)
	if server == "" {
		return usageErrorf("--server URL is required")
	}
	token := a.token
	if token == "" {
		if token, err = a.readToken(server); err != nil {
			return err
		}
	}

	repos, err := a.clientFor(server, token).ListRepos(cmd.Context())
	if err != nil {
		return err // 401 exits 4 (describe)
	}

	saved.Server, saved.Token = server, token
	if cf.Profiles == nil {
		cf.Profiles = map[string]profile{}
	}
	cf.Profiles[name] = saved
	if cf.DefaultProfile == "" {
		cf.DefaultProfile = name
	}
	if err := writeConfig(path, cf); err != nil {
		return err
	}
	if a.getenv("APTQ_TOKEN") != "" {
		a.progress("note: APTQ_TOKEN is set in this environment and takes precedence over the saved token")
	}
	if a.json {
		return a.printJSON(map[string]any{"profile": name, "server": server, "config": path, "repos": len(repos)})
	}
	a.printf("logged in to %s (%d repositories); saved as profile %q in %s\n", server, len(repos), name, path)
	if cf.DefaultProfile != name {
		a.progress("the default profile is still %q: use --profile %s or APTQ_PROFILE=%s", cf.DefaultProfile, name, name)
	}
	return nil
}

// readToken reads the token from stdin: without echo after a prompt when
// stdin is a terminal, else its first line (e.g. piped from a secret store).
func (a *app) readToken(server string) (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(a.stderr, "API token for %s: ", server)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read token: %w", err)
		}
		return checkToken(string(b))
	}
	line, err := bufio.NewReader(io.LimitReader(a.stdin, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read token from stdin: %w", err)
	}
	return checkToken(line)
}

func checkToken(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", usageErrorf("no token: pipe it to stdin (aptq login --server URL < token.txt) or pass --token")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "", usageErrorf("the token contains whitespace; expected one line holding only the token")
	}
	return s, nil
}

func (a *app) completionCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script of a shell. For example:

  bash:  aptq completion bash | sudo tee /etc/bash_completion.d/aptq
         (or: source <(aptq completion bash) in ~/.bashrc)
  zsh:   aptq completion zsh > "${fpath[1]}/_aptq"
  fish:  aptq completion fish > ~/.config/fish/completions/aptq.fish`,
		ValidArgs:   []string{"bash", "zsh", "fish", "powershell"},
		Args:        cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		Annotations: map[string]string{noConfig: "prints a script"},
		RunE: a.action(defaultTimeout, func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(a.stdout, true)
			case "zsh":
				return root.GenZshCompletion(a.stdout)
			case "fish":
				return root.GenFishCompletion(a.stdout, true)
			default:
				return root.GenPowerShellCompletionWithDesc(a.stdout)
			}
		}),
	}
}
