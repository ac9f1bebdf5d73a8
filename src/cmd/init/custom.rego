# Hand-written Rego that refines the generated decision.
# `allow` adds grants the model cannot express; `deny` vetoes any grant.
package permit.custom

import rego.v1

# Nobody may delete a document under legal hold.
deny if {
	input.action == "delete"
	input.resource.type == "document"
	input.resource.attributes.legal_hold == true
}
