// Package builtin assembles a [connectors.Registry] holding the connectors that ship
// with the hub: "http" (httpconn), "github", "slack", "salesforce", "hubspot", "jira",
// "gitlab", "notion", "teams" and "discord". It lives apart from package connectors
// because those connectors import connectors.
package builtin

import (
	"github.com/ehg/hub/connectors"
	"github.com/ehg/hub/connectors/discord"
	"github.com/ehg/hub/connectors/github"
	"github.com/ehg/hub/connectors/gitlab"
	"github.com/ehg/hub/connectors/httpconn"
	"github.com/ehg/hub/connectors/hubspot"
	"github.com/ehg/hub/connectors/jira"
	"github.com/ehg/hub/connectors/notion"
	"github.com/ehg/hub/connectors/salesforce"
	"github.com/ehg/hub/connectors/slack"
	"github.com/ehg/hub/connectors/teams"
)

// Factories returns the built-in factories by kind. The map is new on each call;
// callers may change it.
func Factories() map[string]connectors.Factory {
	return map[string]connectors.Factory{
		httpconn.Kind:   httpconn.Factory,
		github.Kind:     github.Factory,
		slack.Kind:      slack.Factory,
		salesforce.Kind: salesforce.Factory,
		hubspot.Kind:    hubspot.Factory,
		jira.Kind:       jira.Factory,
		gitlab.Kind:     gitlab.Factory,
		notion.Kind:     notion.Factory,
		teams.Kind:      teams.Factory,
		discord.Kind:    discord.Factory,
	}
}

// Register adds the built-in kinds to r. It returns an error wrapping
// connectors.ErrDuplicateKind when r already has one of them (the kinds registered
// before the clash stay registered).
func Register(r *connectors.Registry) error {
	factories := Factories()
	for _, kind := range []string{httpconn.Kind, github.Kind, slack.Kind, salesforce.Kind,
		hubspot.Kind, jira.Kind, gitlab.Kind, notion.Kind, teams.Kind, discord.Kind} {
		if err := r.Register(kind, factories[kind]); err != nil {
			return err
		}
	}
	return nil
}

// NewRegistry returns a new registry holding the built-in kinds. Each call returns
// an independent registry; add custom kinds with Register on it.
func NewRegistry() *connectors.Registry {
	r := connectors.NewRegistry()
	if err := Register(r); err != nil {
		// Unreachable: the registry is empty and the kinds are distinct constants.
		panic(err)
	}
	return r
}
