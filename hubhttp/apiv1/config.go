package apiv1

// ConfigFile is one file of a configuration document.
type ConfigFile struct {
	// Name is the file name errors give (e.g. "services/crm.yaml").
	Name string `json:"name"`
	// Content is the file's YAML or JSON text.
	Content string `json:"content"`
}

// ConfigRequest is the body of POST /config/plan and POST /config/apply: a configuration
// document in one or more files, and the environment whose overrides apply. Apply also
// sends back the revision and fingerprint of the plan it carries out: the hub plans again
// and refuses (409) when either moved.
type ConfigRequest struct {
	Files       []ConfigFile `json:"files"`
	Environment string       `json:"environment,omitempty"`
	Revision    *int64       `json:"revision,omitempty"`
	Fingerprint string       `json:"fingerprint,omitempty"`
}

// ConfigFieldChange is one member a plan changes (credentials by reference only).
type ConfigFieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
	Drift bool   `json:"drift,omitempty"`
}

// ConfigMappingEffect says how a changed mapping alters outputs on stored events.
type ConfigMappingEffect struct {
	Mapping string   `json:"mapping"`
	Samples int      `json:"samples"`
	Changed int      `json:"changed"`
	Failed  int      `json:"failed"`
	Targets []string `json:"targets,omitempty"`
}

// ConfigChange is what a plan does to one object.
type ConfigChange struct {
	Kind     string                `json:"kind"`
	Name     string                `json:"name"`
	Path     string                `json:"path"`
	Action   string                `json:"action"`
	Fields   []ConfigFieldChange   `json:"fields,omitempty"`
	Breaking []string              `json:"breaking,omitempty"`
	Mappings []ConfigMappingEffect `json:"mappings,omitempty"`
}

// ConfigPlan is the answer of POST /config/plan.
type ConfigPlan struct {
	Revision    int64          `json:"revision"`
	Fingerprint string         `json:"fingerprint"`
	HasChanges  bool           `json:"has_changes"`
	Changes     []ConfigChange `json:"changes"`
	// Diff is the plan as readable text.
	Diff string `json:"diff"`
}

// ConfigPending is a change held back for approval.
type ConfigPending struct {
	Change     ConfigChange `json:"change"`
	ApprovalID string       `json:"approval_id"`
}

// ConfigApplyResult is the answer of POST /config/apply.
type ConfigApplyResult struct {
	ChangeSetID string          `json:"change_set_id"`
	Revision    int64           `json:"revision"`
	Applied     []ConfigChange  `json:"applied"`
	Pending     []ConfigPending `json:"pending,omitempty"`
}

// ConfigExport is the answer of GET /config/export: the hub's configuration as a YAML
// document (secret references only).
type ConfigExport struct {
	Document string `json:"document"`
}
