package hub_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ehg/hub"
)

// Authorization, approvals and the chairman's override: a viewer may not read the audit
// log; an admin's new service waits for a second admin's approval; the chairman registers
// one at once, with a reason, and the governance report counts the intervention.
func ExampleWithApprovals() {
	ctx := context.Background()
	// Proposed changes are stored sealed under the secret key; nil is the built-in roles.
	key := []byte(strings.Repeat("k", hub.SecretKeySize))
	h, err := hub.New(nil, hub.WithSecretKey(key), hub.WithAuthorization(nil),
		hub.WithApprovals(hub.ApprovalPolicy{Require: []hub.ChangeKind{hub.ChangeRegister, hub.ChangeCredentials}}))
	if err != nil {
		panic(err)
	}
	as := func(id string, r hub.Role) context.Context {
		return hub.WithPrincipal(ctx, hub.Principal{ID: id, Roles: []hub.Role{r}})
	}
	ada, bob, chair, vic := as("ada", hub.RoleAdmin), as("bob", hub.RoleAdmin), as("chair", hub.RoleChairman), as("vic", hub.RoleViewer)
	defer h.Close(ada)

	_, err = h.ListAudit(vic, hub.AuditQuery{})
	var fe *hub.ForbiddenError
	if errors.As(err, &fe) {
		fmt.Println("viewer:", fe.Permission, "refused:", fe.Rule)
	}

	_, err = h.RegisterIntegration(hub.WithReason(ada, "the CRM goes live"), hub.IntegrationConfig{
		Name: "crm", Connector: "http", BaseURL: "https://crm.example.com"})
	var pending *hub.ApprovalRequiredError
	if !errors.As(err, &pending) {
		panic(err)
	}
	fmt.Println("ada's registration waits:", pending.Changes)
	if _, err := h.Approve(ada, pending.ID, ""); errors.Is(err, hub.ErrForbidden) {
		fmt.Println("ada may not approve her own change")
	}
	res, err := h.Approve(bob, pending.ID, "contract checked")
	if err != nil {
		panic(err)
	}
	fmt.Println("bob approved:", res.Approval.Status, res.Result.(*hub.Registration).Name)

	if _, err := h.RegisterIntegration(hub.WithOverride(chair, "the regulator's deadline is today"), hub.IntegrationConfig{
		Name: "filing", Connector: "http", BaseURL: "https://filing.example.com"}); err != nil {
		panic(err)
	}
	rep, err := h.GovernanceReport(bob, hub.GovernanceQuery{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("interventions: %d, approvals requested: %d, intervention rate: %.2f\n",
		rep.Totals.Interventions, rep.Totals.ApprovalsRequested, rep.Totals.InterventionRate)
	// Output:
	// viewer: audit.read refused: no role grants audit.read (roles: viewer)
	// ada's registration waits: [service.register]
	// ada may not approve her own change
	// bob approved: applied crm
	// interventions: 1, approvals requested: 1, intervention rate: 0.50
}
